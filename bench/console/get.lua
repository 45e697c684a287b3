-- wrk script for bench/console/run.sh: GET one console page, over and over,
-- with the session cookie in CONSOLE_COOKIE ("sluice_session=..."), and
-- count the answers by status.
--
--   CONSOLE_COOKIE="sluice_session=..." wrk -t2 -c16 -d10s --latency \
--     -s bench/console/get.lua http://127.0.0.1:PORT/projects/ID
--
-- done() prints one "status N: COUNT" line per status: the caller fails
-- unless every answer was a 200 (a 303 to /login means the cookie was not
-- sent or the session ended).

local cookie = os.getenv("CONSOLE_COOKIE") or ""

wrk.method = "GET"
if cookie ~= "" then
  wrk.headers["Cookie"] = cookie
end

-- Counting the answers by status: bench/statuses.lua.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "../statuses.lua")
