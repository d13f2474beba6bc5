#!/usr/bin/perl
# sa_rules.pl SITEDIR - the rules SpamAssassin loads with that site
# configuration (and the stock rules), one a line:
#   NAME <TAB> TYPE <TAB> EVAL(0|1) <TAB> SCORE <TAB> META DEPENDENCIES
# TYPE as SpamAssassin names it (header, body, rawbody, full, uri, meta,
# empty); mimeheader rules are body evals there.  Used by sa_agree.py to
# compare only rules both sides define alike (for metas: the same
# operands; a meta from an `if !plugin(...)` alternative has others).
use strict;
use warnings;
use Mail::SpamAssassin;

my $site = shift or die "usage: sa_rules.pl SITEDIR\n";
my $sa = Mail::SpamAssassin->new({
	site_rules_filename => $site,
	userprefs_filename => '/dev/null',
	dont_copy_prefs => 1,
	local_tests_only => 1,
});
$sa->init(0);
my $conf = $sa->{conf};
for my $name (sort keys %{$conf->{test_types}}) {
	my $t = $conf->{test_types}{$name};
	my $score = $conf->{scores}{$name};
	my $deps = $conf->{meta_dependencies}{$name} // [];
	printf "%s\t%s\t%d\t%s\t%s\n", $name,
	    $Mail::SpamAssassin::Conf::TYPE_AS_STRING{$t} // '?', $t & 1,
	    defined $score ? $score : 'undef', join(',', sort @$deps);
}
