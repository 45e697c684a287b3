-- wrk script for bench/run.sh: POST a correct JSON login to
-- /api/v1/auth/login, over and over, and count the answers by status.
--
--   SLUICE_BENCH_EMAIL=... SLUICE_BENCH_PASSWORD=... \
--     wrk -t2 -c8 -d5s -s bench/login.lua http://127.0.0.1:PORT
--
-- Only failed logins are throttled, so every one of these should be a 200
-- with a new session; done() prints one "status N: COUNT" line per status so
-- the caller can check that.

local email = os.getenv("SLUICE_BENCH_EMAIL")
local password = os.getenv("SLUICE_BENCH_PASSWORD")
if email == nil or password == nil then
  error("set SLUICE_BENCH_EMAIL and SLUICE_BENCH_PASSWORD")
end

-- JSON string escaping for the few characters that need it.
local function jstr(s)
  return '"' .. s:gsub('[%c"\\]', function(c)
    return string.format("\\u%04x", c:byte())
  end) .. '"'
end

wrk.method = "POST"
wrk.path = "/api/v1/auth/login"
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"email":' .. jstr(email) .. ',"password":' .. jstr(password) .. '}'

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
end

function response(status, headers, body)
  local k = tostring(status)
  statuses[k] = (statuses[k] or 0) + 1
end

function done(summary, latency, requests)
  local total = {}
  for _, t in ipairs(threads) do
    local s = t:get("statuses")
    if s then
      for k, v in pairs(s) do
        total[k] = (total[k] or 0) + v
      end
    end
  end
  for k, v in pairs(total) do
    io.write(string.format("status %s: %d\n", k, v))
  end
end
