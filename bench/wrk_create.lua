-- wrk script for bench/api.py: POST /api/v1/tickets with a fresh Idempotency-Key per request
-- (so every request creates a ticket), then one JSON line with the counts and latencies.
-- Read from the environment: BENCH_KEY (the API key), BENCH_BODY (the JSON body), BENCH_RUN.

local key = os.getenv("BENCH_KEY")
local body = os.getenv("BENCH_BODY")
local run = os.getenv("BENCH_RUN")
local threads = {}
local counter = 0

function setup(thread)
  thread:set("thread_index", #threads)
  table.insert(threads, thread)
end

function init(args)
  wrk.method = "POST"
  wrk.path = "/api/v1/tickets"
  wrk.body = body
  wrk.headers["Authorization"] = "Bearer " .. key
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  wrk.headers["Idempotency-Key"] = run .. "-" .. thread_index .. "-" .. counter
  return wrk.format()
end

status_other = 0

function response(status, headers, body)
  if status ~= 201 then
    status_other = status_other + 1
  end
end

function done(summary, latency, requests)
  local other = 0
  for _, thread in ipairs(threads) do
    other = other + thread:get("status_other")
  end
  io.write(string.format(
    '{"requests": %d, "duration_us": %d, "not_201": %d, "connect_errors": %d, ' ..
    '"read_errors": %d, "write_errors": %d, "timeouts": %d, ' ..
    '"p50_us": %d, "p95_us": %d, "p99_us": %d, "max_us": %d, "mean_us": %.1f}\n',
    summary.requests, summary.duration, other, summary.errors.connect,
    summary.errors.read, summary.errors.write, summary.errors.timeout,
    latency:percentile(50), latency:percentile(95), latency:percentile(99),
    latency.max, latency.mean))
end
