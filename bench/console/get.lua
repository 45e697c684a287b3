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
