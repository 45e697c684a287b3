-- wrk script for bench/w2/run.sh: POST one JSON order, over and over, with
-- the Authorization header in W2_AUTH (empty for the bare baseline), and
-- count the answers by status.
--
--   W2_AUTH="Bearer eyJ..." wrk -t2 -c32 -d10s --latency -s bench/w2/call.lua \
--     http://127.0.0.1:PORT/call/PROJECT/FLOW
--
-- done() prints one "status N: COUNT" line per status, so the caller can
-- compare the 200s with the runs Sluice recorded.

local auth = os.getenv("W2_AUTH") or ""

wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
if auth ~= "" then
  wrk.headers["Authorization"] = auth
end
wrk.body = '{"order_no":"SO-1001","customer":"ACME-7","lines":[{"sku":"A-1","qty":2},{"sku":"B-2","qty":3},{"sku":"C-3","qty":1}]}'

-- Counting the answers by status: bench/statuses.lua.
dofile((debug.getinfo(1, "S").source:match("^@(.*/)") or "./") .. "../statuses.lua")
