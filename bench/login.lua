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

-- Counting the answers by status: bench/statuses.lua.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "statuses.lua")
