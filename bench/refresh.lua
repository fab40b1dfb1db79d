-- wrk script: the refresh grant. Refresh tokens are single-use, so the script keeps a queue of
-- live ones, starts each request with the oldest, and queues the new one from each response.
local tokens = {}
local auth = "Basic " .. os.getenv("BENCH_BASIC")

function init(args)
  for t in string.gmatch(os.getenv("BENCH_REFRESH_TOKENS"), "[^,]+") do
    table.insert(tokens, t)
  end
end

function request()
  local t = table.remove(tokens, 1)
  if t == nil then
    -- Should not happen with more tokens than connections; wrk then reports non-2xx.
    t = "exhausted"
  end
  return wrk.format("POST", "/2/oauth2/token", {
    ["Authorization"] = auth,
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }, "grant_type=refresh_token&refresh_token=" .. t)
end

function response(status, headers, body)
  local t = string.match(body, '"refresh_token":"([^"]+)"')
  if t then table.insert(tokens, t) end
end
