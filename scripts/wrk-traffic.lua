-- wrk script for scripts/memory-under-traffic.sh: a tenant's day in one
-- connection's requests, paced (`delay`) rather than flat out:
--   7 of 10: a new order through POST /{company}/order;
--   2 of 10: a page of the failed queue, as the dashboard pages it: the
--            first, or the one after the last page this thread was answered
--            (any list's `next` is a position in time, so any will do);
--   1 of 10: the hourly chart or an order's page.
--   wrk ... -s wrk-traffic.lua BASE_URL -- COMPANY SOURCE_TOKEN ADMIN_TOKEN FIXTURE PAUSE_MS
local threads = {}
local counter = 0
local company, source_token, admin_token, template, pause = "", "", "", "", 10
local next_page = nil

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  company, source_token, admin_token = args[1], args[2], args[3]
  local file = assert(io.open(args[4], "r"))
  template = file:read("*a"):gsub("%s+$", "")
  file:close()
  pause = tonumber(args[5] or "10")
  math.randomseed(os.time() + tid)
end

function delay()
  return pause
end

function request()
  counter = counter + 1
  local pick = counter % 10
  if pick < 7 then
    local id = string.format("%d%02d%09d", os.time() % 100000, tid, counter)
    local order = template:gsub('"id":5813370225002', '"id":' .. id, 1)
    local body = '{"source":"traffic","externalId":"' .. id .. '","order":' .. order .. '}'
    return wrk.format("POST", "/" .. company .. "/order", {
      ["Content-Type"] = "application/json",
      ["Authorization"] = "Bearer " .. source_token,
    }, body)
  end
  local path
  if pick < 9 then
    path = "/" .. company .. "/orders?state=failed&limit=50"
    if next_page and math.random() < 0.9 then
      path = path .. "&after=" .. next_page
    end
  elseif counter % 20 == 9 then
    path = "/" .. company .. "/stats/hourly?hours=24"
  else
    path = "/" .. company .. "/orders?state=all&limit=50"
  end
  return wrk.format("GET", path, { ["Authorization"] = "Bearer " .. admin_token })
end

function response(status, headers, body)
  if status == 200 and body then
    local next = body:match('"next":"([^"]+)"')
    if next then
      next_page = next
    elseif body:find('"next":null', 1, true) then
      next_page = nil
    end
  end
end

function done(summary, latency, requests)
  local errors = summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout
  io.write(string.format("RESULT requests=%d rps=%.1f p50_ms=%.2f p99_ms=%.2f errors=%d non2xx=%d\n",
    summary.requests, summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, errors, summary.errors.status))
end
