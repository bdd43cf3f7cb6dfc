-- POST /auth, cycling through the 16 bench users (bench, bench1 .. bench15): the login throttle
-- lets at most five checks of one name run at once, so 16 connections on one name would measure
-- its 429s, not logins.
local counter = 0
function request()
  counter = counter + 1
  local i = counter % 16
  local name = i == 0 and "bench" or ("bench" .. i)
  local body = string.format('{"username":"%s","password":"correct horse battery staple"}', name)
  return wrk.format("POST", "/auth", {["Content-Type"] = "application/json"}, body)
end
