-- statuses.lua: the part every wrk script of the benches shares. Each
-- thread counts its answers by status; done() prints one
-- "status N: COUNT" line per status, summed over the threads, so the
-- bench scripts can check every answer (wrk itself only counts non-2xx).
--
-- A wrk script loads it next to itself:
--
--   dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "../statuses.lua")

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
