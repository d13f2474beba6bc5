-- common.lua: helpers shared by the miltertest scripts (loaded with
-- dofile).  `sock` comes from -D sock=unix:/path.

-- Fail the script with a message.
function fail(msg)
	mt.echo("FAIL: " .. msg)
	error("FAIL: " .. msg, 2)
end

-- Check that the last reply on `conn` is `want` (an SMFIR_* value).
function reply_is(conn, want, what)
	local got = mt.getreply(conn)
	if got ~= want then
		fail(what .. ": reply " .. tostring(got) .. ", want " ..
		    tostring(want))
	end
end

-- Connect and negotiate, retrying while the milter starts.
function open_conn()
	local conn = mt.connect(sock, 40, 0.05)
	if conn == nil then
		fail("cannot connect to " .. sock)
	end
	return conn
end

-- Connect info, HELO, MAIL, RCPT: each must continue.
function envelope(conn, from, to)
	if mt.conninfo(conn, "client.example", "192.0.2.1") ~= nil then
		fail("conninfo")
	end
	reply_is(conn, SMFIR_CONTINUE, "connect")
	if mt.helo(conn, "client.example") ~= nil then fail("helo") end
	reply_is(conn, SMFIR_CONTINUE, "helo")
	mt.macro(conn, SMFIC_MAIL, "i", "QID42", "{auth_authen}", "alice")
	if mt.mailfrom(conn, from) ~= nil then fail("mailfrom") end
	reply_is(conn, SMFIR_CONTINUE, "mail")
	if mt.rcptto(conn, to) ~= nil then fail("rcptto") end
	reply_is(conn, SMFIR_CONTINUE, "rcpt")
end

-- Send headers (a list of {name, value}) and the end of headers.
function headers(conn, list)
	for _, h in ipairs(list) do
		if mt.header(conn, h[1], h[2]) ~= nil then
			fail("header " .. h[1])
		end
	end
	if mt.eoh(conn) ~= nil then fail("eoh") end
	reply_is(conn, SMFIR_CONTINUE, "eoh")
end
