-- authserv.lua: one message; our Authentication-Results names
-- -D authserv=ID (to see which configuration a message ran on).
dofile(dir .. "/common.lua")

conn = open_conn()
envelope(conn, "<a@example.org>", "<b@example.net>")
headers(conn, { { "From", "a@example.org" } })
if mt.eom(conn) ~= nil then fail("eom") end
reply_is(conn, SMFIR_CONTINUE, "eom")
ar = mt.getheader(conn, "Authentication-Results", 0)
-- common.lua's MAIL macros say {auth_authen}=alice: RFC 8601 2.7.4.
if ar == nil or not string.find((ar:gsub("^ ", "")), "^" ..
    (authserv:gsub("%.", "%%.")) .. ";%s+auth=pass smtp%.auth=alice$") then
	fail("Authentication-Results: " .. tostring(ar) .. ", want " ..
	    authserv)
end
mt.disconnect(conn)
mt.echo("authserv " .. authserv .. ": ok")
