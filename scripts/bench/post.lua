-- wrk script: POST one fixed body, then print the summary as one JSON line.
-- Usage: wrk -s post.lua URL -- BODY_FILE CONTENT_TYPE
-- The line starts with "WRK_JSON " so the driver can find it among wrk's own report.

function init(args)
  local file = assert(io.open(args[1], "rb"), "cannot read body file " .. tostring(args[1]))
  wrk.method = "POST"
  wrk.body = file:read("*a")
  file:close()
  wrk.headers["Content-Type"] = args[2]
end

function done(summary, latency, requests)
  local errors = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests": %d, "duration_us": %d, "requests_per_s": %.2f, '
      .. '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, '
      .. '"errors": {"connect": %d, "read": %d, "write": %d, "status": %d, "timeout": %d}}\n',
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max,
    errors.connect, errors.read, errors.write, errors.status, errors.timeout))
end
