-- tag.lua: with score.tag = -1 every message is spam: X-Spam-Flag YES,
-- X-Spam-Status Yes, the Subject prefixed (tag.subject_prefix = [SPAM]).
dofile(dir .. "/common.lua")

conn = open_conn()
envelope(conn, "<a@example.org>", "<b@example.net>")
headers(conn, { { "From", "a@example.org" }, { "Subject", "hello" } })
if mt.bodystring(conn, "Buy now.\r\n") ~= nil then fail("body") end
if mt.eom(conn) ~= nil then fail("eom") end
reply_is(conn, SMFIR_CONTINUE, "eom")
flag = mt.getheader(conn, "X-Spam-Flag", 0)
if flag == nil or not string.find(flag, "^ ?YES$") then
	fail("X-Spam-Flag: " .. tostring(flag))
end
st = mt.getheader(conn, "X-Spam-Status", 0)
if st == nil or not string.find(st, "^ ?Yes, score=0%.0 required=%-1%.0") then
	fail("X-Spam-Status: " .. tostring(st))
end
if not mt.eom_check(conn, MT_HDRCHANGE, "Subject") then
	fail("Subject not changed")
end
if not mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results") then
	fail("no Authentication-Results")
end
mt.disconnect(conn)
mt.echo("tag: ok")
