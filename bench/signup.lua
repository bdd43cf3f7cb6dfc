-- POST /user with a new username on every request (thread id + counter + run prefix).
local counter = 0
local prefix = os.getenv("BENCH_PREFIX") or "r"
function request()
  counter = counter + 1
  local name = string.format("%s%d_%d", prefix, id, counter)
  local body = string.format('{"username":"%s","email":"%s@example.com","password":"correct horse battery staple"}', name, name)
  return wrk.format("POST", "/user", {["Content-Type"] = "application/json"}, body)
end
