-- refuse.lua: a message the milter cannot store (max_message_size) goes
-- through on_filter_error: -D code=451 (tempfail) or 550 (reject), with
-- the configured enhanced status code and text (-D status=, -D text=;
-- miltertest compares the whole reply); no header is touched.
dofile(dir .. "/common.lua")

conn = open_conn()
envelope(conn, "<a@example.org>", "<b@example.net>")
headers(conn, { { "From", "a@example.org" } })
line = string.rep("x", 78) .. "\r\n"
for i = 1, 40 do
	if mt.bodystring(conn, line) ~= nil then fail("body") end
end
if mt.eom(conn) ~= nil then fail("eom") end
reply_is(conn, SMFIR_REPLYCODE, "eom")
if not mt.eom_check(conn, MT_SMTPREPLY, code, status, text) then
	fail("reply is not " .. code .. " " .. status .. " " .. text)
end
if mt.eom_check(conn, MT_HDRINSERT) or mt.eom_check(conn, MT_HDRADD) or
    mt.eom_check(conn, MT_HDRCHANGE) then
	fail("a refused message was edited")
end
-- The session goes on: a small message passes.
if mt.mailfrom(conn, "<c@example.org>") ~= nil then fail("mailfrom 2") end
reply_is(conn, SMFIR_CONTINUE, "mail 2")
if mt.rcptto(conn, "<d@example.net>") ~= nil then fail("rcptto 2") end
if mt.eom(conn) ~= nil then fail("eom 2") end
reply_is(conn, SMFIR_CONTINUE, "eom 2")
mt.disconnect(conn)
mt.echo("refuse " .. code .. ": ok")
