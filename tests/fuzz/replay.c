/*
 * replay.c — a main() for the libFuzzer targets in builds without
 * libFuzzer (any compiler): runs LLVMFuzzerTestOneInput once on every
 * file named on the command line or found in the directories named,
 * so that ctest replays the seed corpora and the inputs that once
 * crashed (tests/fuzz/regressions/TARGET/) under the sanitizers of the
 * build.  A crash, a sanitizer report or an abort() of the target's
 * own checks fails the test; an unreadable file fails it too.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

/* Run the target on the file PATH; -1 when it cannot be read. */
static int
run_file(const char *path)
{
	FILE	*f;
	uint8_t	*buf;
	long	 len;
	int	 r = -1;

	if ((f = fopen(path, "rb")) == NULL)
		return -1;
	if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)len + 1)) != NULL) {
		if (fread(buf, 1, (size_t)len, f) == (size_t)len) {
			(void)LLVMFuzzerTestOneInput(buf, (size_t)len);
			r = 0;
		}
		free(buf);
	}
	fclose(f);
	return r;
}

/* Run the target on PATH, a file or every file under a directory;
   the number of files that failed to run. */
static int
run_path(const char *path, unsigned *count)
{
	struct stat	 sb;
	struct dirent	*de;
	DIR		*d;
	char		 sub[4096];
	int		 bad = 0;

	if (stat(path, &sb) == -1) {
		fprintf(stderr, "replay: %s: cannot stat\n", path);
		return 1;
	}
	if (!S_ISDIR(sb.st_mode)) {
		(*count)++;
		if (run_file(path) == -1) {
			fprintf(stderr, "replay: %s: cannot read\n", path);
			return 1;
		}
		return 0;
	}
	if ((d = opendir(path)) == NULL)
		return 1;
	while ((de = readdir(d)) != NULL) {
		if (de->d_name[0] == '.')
			continue;
		if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", path,
		    de->d_name) >= sizeof(sub))
			bad++;
		else
			bad += run_path(sub, count);
	}
	closedir(d);
	return bad;
}

int
main(int argc, char **argv)
{
	unsigned	 count = 0;
	int		 i, bad = 0;

	for (i = 1; i < argc; i++)
		bad += run_path(argv[i], &count);
	printf("replay: %u input(s), %d unreadable\n", count, bad);
	return bad ? 1 : 0;
}
