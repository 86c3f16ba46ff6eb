-- wrk script: POST the file named by $BODY_FILE with $CONTENT_TYPE
-- (defaults: one order as JSON) and $CONTENT_ENCODING, if set. Used by bench/http_*.sh.
local f = os.getenv("BODY_FILE")
local body = '{"customer_id": 3, "source": "Dine In", "quantity": 7}'
if f and f ~= "" then
    local h = assert(io.open(f, "rb"))
    body = h:read("*a")
    h:close()
end
wrk.method = "POST"
wrk.body = body
wrk.headers["Content-Type"] = os.getenv("CONTENT_TYPE") or "application/json"
local enc = os.getenv("CONTENT_ENCODING")
if enc and enc ~= "" then
    wrk.headers["Content-Encoding"] = enc
end

local statuses = {}
function response(status, headers, body)
    statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
    io.write(string.format("p50_ms %.3f\np99_ms %.3f\n",
        latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
