-- negbench.lua - wrk script of negbench.py: cache hits through a proxy
-- with Negotiate on, as browsers do it: one ticket per connection.
--
--   wrk -t N -c N ... -s negbench.lua -- TARGET HOST TOKENFILE|- ["Name: value"...]
--
-- With as many threads as connections each thread has one connection; the
-- thread's first request carries its own token (line <thread number> of
-- TOKENFILE: tokens cannot be shared, a second use is a replay) and every
-- later one goes without Proxy-Authorization, riding on the connection's
-- user. With "-" no request carries one (auth off, or a Basic credential
-- given as an extra header: sent on every request).
-- done() prints proxybench's PBRESULT line.

local counter = 0

function setup(thread)
   counter = counter + 1
   thread:set("id", counter)
end

function init(args)
   local target, host, file = args[1], args[2], args[3]
   local hdrs = { ["Host"] = host, ["User-Agent"] = "negbench-wrk" }
   for i = 4, #args do
      local name, value = string.match(args[i], "^([^:]+):%s*(.*)$")
      if name then hdrs[name] = value end
   end
   plain = wrk.format("GET", target, hdrs)
   first = nil
   if file and file ~= "-" then
      local n = 0
      for line in io.lines(file) do
         n = n + 1
         if n == id then
            first = wrk.format("GET", target, { ["Host"] = host,
               ["User-Agent"] = "negbench-wrk",
               ["Proxy-Authorization"] = "Negotiate " .. line })
         end
      end
      if first == nil then
         error("no token for thread " .. tostring(id))
      end
   end
end

-- wrk may call request() more than once for one write (a write that
-- would block is started again from a new request()), so the token stays
-- the request until the first response is in. response() makes wrk hand
-- every response's head to Lua: it costs the client CPU, and it is defined
-- for every configuration so that all pay the same.
function request()
   return first or plain
end

function response(status, headers, body)
   first = nil
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      "PBRESULT requests=%d duration_us=%d bytes=%d connect=%d read=%d write=%d " ..
      "status=%d timeout=%d p50_us=%d p90_us=%d p99_us=%d max_us=%d mean_us=%.1f\n",
      summary.requests, summary.duration, summary.bytes,
      e.connect, e.read, e.write, e.status, e.timeout,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.max, latency.mean))
end
