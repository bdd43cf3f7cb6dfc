-- POST /auth/token: each thread (run with one connection per thread) spends its own sign-in's
-- refresh token and keeps the new one, a chain of refreshes as a client makes them. The
-- sign-ins' refresh tokens are the lines of the file $REFRESH_TOKENS, one per thread.
function init(args)
  statuses = {}
  local n = 0
  for line in io.lines(os.getenv("REFRESH_TOKENS")) do
    n = n + 1
    if n == id then rt = line end
  end
end
function request()
  return wrk.format("POST", "/auth/token",
    {["Content-Type"] = "application/x-www-form-urlencoded"},
    "grant_type=refresh_token&refresh_token=" .. rt)
end
function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  if status == 200 then rt = body:match('"refresh_token":"([^"]+)"') or rt end
end
