-- wrk script for scripts/bench-ingest.sh: every request carries a new order
-- (a Shopify orders/create body with a unique id), so none is a duplicate.
--   wrk ... -s wrk-ingest.lua URL -- TOKEN order|webhook FIXTURE
local threads = {}
local counter = 0
local token, mode, template = "", "order", ""

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  token = args[1] or ""
  mode = args[2] or "order"
  local file = assert(io.open(args[3], "r"))
  template = file:read("*a"):gsub("%s+$", "")
  file:close()
end

function request()
  counter = counter + 1
  local id = string.format("%d%02d%09d", os.time() % 100000, tid, counter)
  local order = template:gsub('"id":5813370225002', '"id":' .. id, 1)
  local body
  if mode == "order" then
    body = '{"source":"bench","externalId":"' .. id .. '","order":' .. order .. '}'
  else
    body = order
  end
  return wrk.format("POST", nil, {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
    ["X-Shopify-Topic"] = "orders/create",
  }, body)
end

function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT rps=%.1f p50_ms=%.2f p99_ms=%.2f errors=%d non2xx=%d\n",
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, errors, summary.errors.status))
end
