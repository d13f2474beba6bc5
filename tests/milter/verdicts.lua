-- verdicts.lua: with tests/milter/verdicts.rules every verdict at every
-- stage: reject at connect, tempfail at HELO, reject / discard / accept
-- at MAIL, reject and tempfail of one recipient, reject at end of
-- headers, tag at end of headers, reject / tempfail / discard at end of
-- message; refused messages are never edited.
dofile(dir .. "/common.lua")

-- A connection, up to (and including) the stage named `upto`.
function start(ip, helo, from, rcpt)
	local conn = open_conn()
	if mt.conninfo(conn, "client.example", ip) ~= nil then
		fail("conninfo")
	end
	if helo == nil then return conn end
	reply_is(conn, SMFIR_CONTINUE, "connect")
	if mt.helo(conn, helo) ~= nil then fail("helo") end
	if from == nil then return conn end
	reply_is(conn, SMFIR_CONTINUE, "helo")
	mt.macro(conn, SMFIC_MAIL, "i", "QIDV")
	if mt.mailfrom(conn, from) ~= nil then fail("mailfrom") end
	if rcpt == nil then return conn end
	reply_is(conn, SMFIR_CONTINUE, "mail")
	if mt.rcptto(conn, rcpt) ~= nil then fail("rcptto") end
	reply_is(conn, SMFIR_CONTINUE, "rcpt")
	return conn
end

-- A message body, then EOM; returns nothing (check the reply after).
function body_eom(conn, subject, body)
	headers(conn, { { "From", "a@example.org" }, { "Subject", subject } })
	if mt.bodystring(conn, body .. "\r\n") ~= nil then fail("body") end
	if mt.eom(conn) ~= nil then fail("eom") end
end

function not_edited(conn, what)
	if mt.eom_check(conn, MT_HDRINSERT) or mt.eom_check(conn, MT_HDRADD) or
	    mt.eom_check(conn, MT_HDRCHANGE) then
		fail(what .. ": a refused message was edited")
	end
end

-- connect: reject
conn = start("192.0.2.66")
reply_is(conn, SMFIR_REPLYCODE, "connect reject")
mt.disconnect(conn)

-- HELO: tempfail
conn = start("192.0.2.1", "temp.helo.example")
reply_is(conn, SMFIR_REPLYCODE, "helo tempfail")
mt.disconnect(conn)

-- MAIL: reject, then a good sender on the same connection
conn = start("192.0.2.1", "client.example", "<reject-mail@example.org>")
reply_is(conn, SMFIR_REPLYCODE, "mail reject")
if mt.mailfrom(conn, "<a@example.org>") ~= nil then fail("mailfrom 2") end
reply_is(conn, SMFIR_CONTINUE, "mail after a refused one")
mt.disconnect(conn)

-- MAIL: discard
conn = start("192.0.2.1", "client.example", "<discard@example.org>")
reply_is(conn, SMFIR_DISCARD, "mail discard")
mt.disconnect(conn)

-- RCPT: one recipient refused (reject, tempfail), the message goes on
conn = start("192.0.2.1", "client.example", "<a@example.org>",
    "<b@example.net>")
if mt.rcptto(conn, "<trap@example.net>") ~= nil then fail("rcptto") end
reply_is(conn, SMFIR_REPLYCODE, "rcpt reject")
if mt.rcptto(conn, "<later@example.net>") ~= nil then fail("rcptto") end
reply_is(conn, SMFIR_REPLYCODE, "rcpt tempfail")
if mt.rcptto(conn, "<c@example.net>") ~= nil then fail("rcptto") end
reply_is(conn, SMFIR_CONTINUE, "rcpt after refused ones")
body_eom(conn, "hello", "Hello.")
reply_is(conn, SMFIR_CONTINUE, "eom after refused recipients")
mt.disconnect(conn)

-- end of headers: reject
conn = start("192.0.2.1", "client.example", "<a@example.org>",
    "<b@example.net>")
if mt.header(conn, "Subject", "please reject-me") ~= nil then fail("hdr") end
if mt.eoh(conn) ~= nil then fail("eoh") end
reply_is(conn, SMFIR_REPLYCODE, "eoh reject")
mt.disconnect(conn)

-- end of message: reject, tempfail (with their texts), discard
conn = start("192.0.2.1", "client.example", "<a@example.org>",
    "<b@example.net>")
body_eom(conn, "hello", "XREJECTBODYX")
reply_is(conn, SMFIR_REPLYCODE, "eom reject")
if not mt.eom_check(conn, MT_SMTPREPLY, "554", "5.7.1", "Body refused") then
	fail("eom reject: reply text")
end
not_edited(conn, "eom reject")
if mt.mailfrom(conn, "<a@example.org>") ~= nil then fail("mailfrom") end
if mt.rcptto(conn, "<b@example.net>") ~= nil then fail("rcptto") end
body_eom(conn, "hello", "XTEMPBODYX")
reply_is(conn, SMFIR_REPLYCODE, "eom tempfail")
if not mt.eom_check(conn, MT_SMTPREPLY, "451", "4.7.1", "Body later") then
	fail("eom tempfail: reply text")
end
not_edited(conn, "eom tempfail")
if mt.mailfrom(conn, "<a@example.org>") ~= nil then fail("mailfrom") end
if mt.rcptto(conn, "<b@example.net>") ~= nil then fail("rcptto") end
body_eom(conn, "hello", "XDISCARDBODYX")
reply_is(conn, SMFIR_DISCARD, "eom discard")
mt.disconnect(conn)

-- accept at MAIL: delivered with our A-R, never tagged
conn = start("192.0.2.1", "client.example", "<vip@example.org>",
    "<b@example.net>")
body_eom(conn, "tag-me", "XREJECTBODYX")
reply_is(conn, SMFIR_ACCEPT, "accept")
if not mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results") then
	fail("accept: no Authentication-Results")
end
if mt.eom_check(conn, MT_HDRADD, "X-Spam-Flag") then
	fail("accept: tagged")
end
mt.disconnect(conn)

-- tag at end of headers: X-Spam-Flag
conn = start("192.0.2.1", "client.example", "<a@example.org>",
    "<b@example.net>")
body_eom(conn, "tag-me", "Hello.")
reply_is(conn, SMFIR_CONTINUE, "tag")
flag = mt.getheader(conn, "X-Spam-Flag", 0)
if flag == nil or not string.find(flag, "^ ?YES$") then
	fail("tag: X-Spam-Flag " .. tostring(flag))
end
st = mt.getheader(conn, "X-Spam-Status", 0)
if st == nil or not string.find(st, "tests=T_HDR_TAG") then
	fail("tag: X-Spam-Status " .. tostring(st))
end
mt.disconnect(conn)
mt.echo("verdicts: ok")
