-- rehelo.lua: HELO twice before MAIL, as Postfix reports the EHLO a
-- client must send again after STARTTLS (RFC 3207 4.2): with rules
-- loaded, both continue and the message after them passes (the rules
-- filter's engine only goes forward and must start over).
dofile(dir .. "/common.lua")

conn = open_conn()
if mt.conninfo(conn, "client.example", "192.0.2.1") ~= nil then
	fail("conninfo")
end
reply_is(conn, SMFIR_CONTINUE, "connect")
if mt.helo(conn, "client.example") ~= nil then fail("helo") end
reply_is(conn, SMFIR_CONTINUE, "helo")
if mt.helo(conn, "client.example") ~= nil then fail("helo 2") end
reply_is(conn, SMFIR_CONTINUE, "helo after STARTTLS")
if mt.mailfrom(conn, "<a@example.org>") ~= nil then fail("mailfrom") end
reply_is(conn, SMFIR_CONTINUE, "mail")
if mt.rcptto(conn, "<b@example.net>") ~= nil then fail("rcptto") end
reply_is(conn, SMFIR_CONTINUE, "rcpt")
headers(conn, { { "From", "a@example.org" } })
if mt.eom(conn) ~= nil then fail("eom") end
reply_is(conn, SMFIR_CONTINUE, "eom")
mt.disconnect(conn)
mt.echo("rehelo: ok")
