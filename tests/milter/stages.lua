-- stages.lua: every stage continues; at EOM the forged
-- Authentication-Results (our authserv-id, mx.test) are deleted, ours is
-- inserted at the top, X-Spam-* are added; a second message and an
-- aborted one on the same connection work.
dofile(dir .. "/common.lua")

conn = open_conn()
envelope(conn, "<a@example.org>", "<b@example.net>")
headers(conn, {
	{ "Authentication-Results", "mx.test; spf=pass smtp.mailfrom=x" },
	{ "From", "a@example.org" },
	{ "Authentication-Results", "other.example; spf=fail" },
	{ "Subject", "hello" },
	{ "Authentication-Results", "MX.TEST.; dkim=pass" },
})
if mt.bodystring(conn, "Hello.\r\n") ~= nil then fail("body") end
if mt.eom(conn) ~= nil then fail("eom") end
reply_is(conn, SMFIR_CONTINUE, "eom")
if not mt.eom_check(conn, MT_HDRDELETE, "Authentication-Results") then
	fail("forged Authentication-Results not deleted")
end
if not mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results") then
	fail("no Authentication-Results inserted")
end
ar = mt.getheader(conn, "Authentication-Results", 0)
-- common.lua's MAIL macros say {auth_authen}=alice: RFC 8601 2.7.4.
if ar == nil or
    not string.find(ar, "^ ?mx%.test;%s+auth=pass smtp%.auth=alice$") then
	fail("Authentication-Results value: " .. tostring(ar))
end
if not mt.eom_check(conn, MT_HDRADD, "X-Spam-Status") then
	fail("no X-Spam-Status")
end
st = mt.getheader(conn, "X-Spam-Status", 0)
if st == nil or not string.find(st, "^ ?No, score=0%.0 required=5%.0") then
	fail("X-Spam-Status value: " .. tostring(st))
end
if mt.eom_check(conn, MT_HDRADD, "X-Spam-Flag") then
	fail("X-Spam-Flag on a message that is not spam")
end

-- A second message on the same connection.
if mt.mailfrom(conn, "<c@example.org>") ~= nil then fail("mailfrom 2") end
reply_is(conn, SMFIR_CONTINUE, "mail 2")
if mt.rcptto(conn, "<d@example.net>") ~= nil then fail("rcptto 2") end
reply_is(conn, SMFIR_CONTINUE, "rcpt 2")
headers(conn, { { "From", "c@example.org" } })
if mt.eom(conn) ~= nil then fail("eom 2") end
reply_is(conn, SMFIR_CONTINUE, "eom 2")
if mt.eom_check(conn, MT_HDRDELETE, "Authentication-Results") then
	fail("deleted a header that was not there")
end

-- An aborted message, then one more.
if mt.mailfrom(conn, "<e@example.org>") ~= nil then fail("mailfrom 3") end
if mt.rcptto(conn, "<f@example.net>") ~= nil then fail("rcptto 3") end
if mt.abort(conn) ~= nil then fail("abort") end
if mt.mailfrom(conn, "<g@example.org>") ~= nil then fail("mailfrom 4") end
reply_is(conn, SMFIR_CONTINUE, "mail 4")
if mt.rcptto(conn, "<h@example.net>") ~= nil then fail("rcptto 4") end
if mt.eom(conn) ~= nil then fail("eom 4") end
reply_is(conn, SMFIR_CONTINUE, "eom 4")
mt.disconnect(conn)
mt.echo("stages: ok")
