-- wrk script for `make bench` (bench/api_load.py drives it; see README "Benchmarks").
-- wrk -s bench/wrk/chargepay.lua URL -- MODE TOKEN NONCE USERS PARTNER
--   MODE: ping | pay | pay-hot | balance | hop
--   TOKEN: the bearer token (a &Charge access token, or a HOP JWT for hop)
--   NONCE: makes every transactionId of this wrk run unique (pay, pay-hot)
--   USERS: how many linked users u0..u(USERS-1) to spread over (pay, balance); for hop the customer ids, "a-b"
--   PARTNER: the partner code in the &Charge paths
-- Prints one line "BENCH_JSON {...}" with the counts, latency percentiles (µs) and every HTTP status seen.

local threads = {}

function setup(thread)
   thread:set("tid", #threads + 1)
   table.insert(threads, thread)
end

local PAY_BODY = '{"transactionId":"%s","transactionReference":"bench","service":"PAY_FOR_CHARGING_SESSION",'
   .. '"kilometer":1,"serviceSpecificData":{"EVSE_ID":"DE*911E12345","CONSUMED_ENERGY_KWH":"12.234",'
   .. '"SESSION_START":"2019-02-28T12:12:12.123Z","SESSION_END":"2019-02-28T15:48:12.888Z",'
   .. '"GEO_POSITION_USER":"20.12366,21.23425","GEO_POSITION_CHARGEPOINT":"20.12345,21.23445","COUNTRY":"DE",'
   .. '"CITY":"Eschborn","STREET":"K\\u00f6lner Stra\\u00dfe","HOUSE_NUMBER":"1"}}'

function init(args)
   mode, token, nonce, partner = args[1], args[2], args[3], args[5]
   counter = 0
   statuses = {}
   headers = {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}
   if mode == "hop" then
      local first, last = string.match(args[4], "(%d+)-(%d+)")
      first, last = tonumber(first), tonumber(last)
      span = last - first + 1
      base = first
   else
      span = tonumber(args[4])
      base = 0
   end
end

function request()
   counter = counter + 1
   -- Threads start at different offsets and step by a prime, so concurrent requests rarely share a wallet.
   local n = base + (counter * 7919 + tid * 104729) % span
   if mode == "ping" then
      return wrk.format("GET", "/v1/partners/" .. partner .. "/ping", headers)
   elseif mode == "balance" then
      return wrk.format("GET", "/v1/partners/" .. partner .. "/accounts/u" .. n, headers)
   elseif mode == "hop" then
      return wrk.format("POST", "/api/v1/users/" .. n .. "/charges", headers, '{"charge":{"amount_in_cents":500}}')
   end
   local user = (mode == "pay-hot") and "hot" or ("u" .. n)
   local body = string.format(PAY_BODY, nonce .. "-" .. tid .. "-" .. counter)
   return wrk.format("POST", "/v1/partners/" .. partner .. "/accounts/" .. user .. "/transactions", headers, body)
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
   local seen = {}
   for _, thread in ipairs(threads) do
      for status, count in pairs(thread:get("statuses")) do
         seen[status] = (seen[status] or 0) + count
      end
   end
   local parts = {}
   for status, count in pairs(seen) do
      table.insert(parts, string.format('"%d":%d', status, count))
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,"max_us":%d,'
         .. '"socket_errors":%d,"timeouts":%d,"non_2xx":%d,"statuses":{%s}}\n',
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(99), latency.max,
      e.connect + e.read + e.write, e.timeout, e.status, table.concat(parts, ",")))
end
