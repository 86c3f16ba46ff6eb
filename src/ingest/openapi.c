/*
 * openapi — GET /openapi.json (an OpenAPI 3.1 description of every
 * endpoint, field, status and error body) and GET /docs (the same document
 * rendered as a page by a small inline script: no network, no CDN).
 *
 * The document is one compact string literal. Its list of sources shows the
 * defaults; a server started with --sources answers with its own list
 * (patched in when the document is served).
 *
 * /docs carries the document inside a <script type="application/json">
 * block. Operator-set text (the sources) must not end that block, so the
 * JSON is written there with < > & U+2028 U+2029 as \u escapes (the same
 * JSON to a parser, no markup to the HTML one). The page's one script
 * runs under a Content-Security-Policy that allows only it, by a nonce
 * drawn for each answer: anything else that got into the page would not run.
 */
#include "ingest/ingest.h"
#include "http/mhd.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>

static const char spec[] =
    "{\"openapi\":\"3.1.0\",\"info\":{\"title\":\"salesflow\",\"version\":\"0.1.0\",\"description\":"
    "\"Real-time sales pipeline: ingestion API, dashboard and query API. A 2xx from an ingestion endp"
    "oint means every accepted order is durable (fsync'd in the embedded log). Bad input gets a 4xx a"
    "nd leaves no trace in the log. When the server has API keys (--api-key, SALESFLOW_API_KEYS, --ap"
    "i-key-file), the ingestion endpoints need Authorization: Bearer KEY; the dashboard, the query AP"
    "I and this document stay open.\"},\"components\":{\"securitySchemes\":{\"bearer\":{\"type\":\"ht"
    "tp\",\"scheme\":\"bearer\"}},\"schemas\":{\"Order\":{\"type\":\"object\",\"additionalProperties"
    "\":false,\"required\":[\"customer_id\",\"source\",\"quantity\"],\"description\":\"One order. Any"
    " other field is rejected with type extra_forbidden.\",\"properties\":{\"customer_id\":{\"type\":"
    "\"integer\",\"minimum\":1,\"description\":\"A customer of the catalog (--customers, reloaded on "
    "SIGHUP). Also accepted: a whole float (3.0) or a string of digits (\\\"3\\\").\"},\"source\":{\""
    "type\":\"string\",\"enum\":[\"Dine In\",\"Takeaway\",\"Home Delivery\"],\"description\":\"One of"
    " the configured sources (--sources; these are the defaults).\"},\"quantity\":{\"type\":\"integer"
    "\",\"minimum\":1,\"maximum\":1000000,\"description\":\"Units; lax integers as for customer_id.\""
    "},\"order_id\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":64,\"pattern\":\"^[\\\\x20-"
    "\\\\x7e]+$\",\"description\":\"Idempotency key. An order_id seen within --dedupe-window (default"
    " 24 h, survives restarts) is answered with the first result and not stored again. Default: a ser"
    "ver UUIDv7.\"},\"created_at\":{\"type\":\"string\",\"description\":\"Event time: RFC 3339 (2026-"
    "11-29T03:40:00Z, offset and fraction optional) or the original \\\"%m/%d/%Y, %H:%M:%S\\\" (UTC)."
    " Default: server UTC now.\"},\"unit_price\":{\"oneOf\":[{\"type\":\"number\",\"minimum\":0},{\"t"
    "ype\":\"string\"}],\"description\":\"Decimal >= 0 with at most 2 decimals, as a number or a stri"
    "ng (\\\"12.50\\\"); at most 1000000000000.00. Default: --unit-price (300.00). total = quantity x"
    " unit_price.\"}},\"example\":{\"customer_id\":3,\"source\":\"Dine In\",\"quantity\":7}},\"Valida"
    "tionError\":{\"type\":\"object\",\"required\":[\"loc\",\"msg\",\"type\"],\"properties\":{\"loc\""
    ":{\"type\":\"array\",\"items\":{\"oneOf\":[{\"type\":\"string\"},{\"type\":\"integer\"}]},\"desc"
    "ription\":\"[\\\"body\\\", field], [\\\"body\\\", row, field] in a batch, [\\\"body\\\"] for the"
    " whole body, [\\\"query\\\", name].\"},\"msg\":{\"type\":\"string\",\"description\":\"What is wr"
    "ong, for a person.\"},\"type\":{\"type\":\"string\",\"description\":\"pydantic's error type: mis"
    "sing, int_type, int_parsing, int_from_float, int_parsing_size, string_type, literal_error, great"
    "er_than_equal, less_than_equal, value_error, json_invalid, model_attributes_type, extra_forbidde"
    "n, string_too_short, string_too_long, string_pattern_mismatch, datetime_type, datetime_parsing, "
    "decimal_type, decimal_parsing, decimal_max_places, too_short, too_long; and for rows the log ref"
    "used: unavailable, storage_error.\"}}},\"HTTPValidationError\":{\"type\":\"object\",\"properties"
    "\":{\"detail\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/components/schemas/ValidationError\"}"
    "}}},\"Message\":{\"type\":\"object\",\"properties\":{\"detail\":{\"type\":\"string\"}}},\"OrderI"
    "temCreated\":{\"type\":\"object\",\"properties\":{\"status\":{\"const\":\"success\"},\"message\""
    ":{\"const\":\"Stock entry created\"},\"order_id\":{\"type\":\"string\"}}},\"RowResult\":{\"oneOf"
    "\":[{\"type\":\"object\",\"required\":[\"index\",\"order_id\"],\"properties\":{\"index\":{\"type"
    "\":\"integer\"},\"order_id\":{\"type\":\"string\"},\"duplicate\":{\"type\":\"boolean\",\"descrip"
    "tion\":\"true: the order_id was stored before (or earlier in this request); it was not stored ag"
    "ain\"}}},{\"type\":\"object\",\"required\":[\"index\",\"detail\"],\"properties\":{\"index\":{\"t"
    "ype\":\"integer\"},\"detail\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/components/schemas/Val"
    "idationError\"}}}}]},\"BatchResult\":{\"type\":\"object\",\"required\":[\"accepted\",\"rejected"
    "\",\"results\"],\"properties\":{\"accepted\":{\"type\":\"integer\"},\"rejected\":{\"type\":\"int"
    "eger\"},\"results\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/components/schemas/RowResult\"},"
    "\"description\":\"One per row, in request order.\"}}},\"QuarantineItem\":{\"type\":\"object\",\""
    "properties\":{\"time\":{\"type\":\"string\"},\"endpoint\":{\"type\":\"string\"},\"index\":{\"typ"
    "e\":\"integer\"},\"detail\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/components/schemas/Valid"
    "ationError\"}},\"detail_truncated\":{\"type\":\"boolean\",\"description\":\"Present (true) when"
    " only the first entries of a detail over 4 KiB are kept\"},\"raw\":{\"type\":\"string\",\"descri"
    "ption\":\"The start of the row as sent: at most 4 KiB once escaped for JSON (invalid UTF-8 repla"
    "ced by U+FFFD)\"},\"raw_length\":{\"type\":\"integer\",\"description\":\"The row's full length i"
    "n bytes\"},\"raw_truncated\":{\"type\":\"boolean\",\"description\":\"raw is only the start of th"
    "e row\"},\"raw_lossy\":{\"type"
    "\":\"boolean\"}}}}},\"paths\":{\"/orderitem\":{\"post\":{\"summary\":\"Create one order (the ori"
    "ginal FastAPI endpoint)\",\"security\":[{\"bearer\":[]},{}],\"requestBody\":{\"required\":true,"
    "\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Order\"}}}},\"res"
    "ponses\":{\"201\":{\"description\":\"Stored durably (or an order_id stored before).\",\"content"
    "\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/OrderItemCreated\"}}}},\"4"
    "22\":{\"description\":\"Invalid order or malformed JSON: one entry per problem.\",\"content\":{"
    "\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/HTTPValidationError\"}}}},\"40"
    "1\":{\"description\":\"No or wrong API key (only when the server has API keys): {\\\"detail\\\":"
    "\\\"Not authenticated: \\u2026\\\"} or {\\\"detail\\\":\\\"Invalid API key\\\"}. Header WWW-Auth"
    "enticate: Bearer.\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schem"
    "as/Message\"}}}},"
    "\"404\":{\"description\":\"This server does not ingest orders (salesflow serve has no log): {\\\"detail\\\":\\\"this server does not ingest orders\\\"}; retrying never helps.\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Message\"}}}},"
    "\"408\":{\"description\":\"The headers or the body did not arrive within the re"
    "ad timeouts (--header-timeout, --body-timeout); the connection is closed.\",\"content\":{\"appli"
    "cation/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Message\"}}}},\"413\":{\"description"
    "\":\"Body larger than the limit (1 MiB for /orderitem, --max-body for /v1/orders), or more rows "
    "than --max-batch.\",\"content\":{\"application/json\":{\"schema\":{\"oneOf\":[{\"$ref\":\"#/comp"
    "onents/schemas/Message\"},{\"$ref\":\"#/components/schemas/HTTPValidationError\"}]}}}},\"415\":{"
    "\"description\":\"Content-Type missing or not JSON (or NDJSON for /v1/orders).\",\"content\":{\"applicat"
    "ion/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Message\"}}}},\"431\":{\"description\":"
    "\"Request headers too large (about 32 KiB in all).\"},\"503\":{\"description\":\"The log's appen"
    "d queue is full, too many request bodies are in memory, or the server is shutting down: retry af"
    "ter Retry-After seconds.\",\"content\":{\"application/json\":{\"schema\":{\"oneOf\":[{\"$ref\":"
    "\"#/components/schemas/Message\"},{\"$ref\":\"#/components/schemas/BatchResult\"}]}}},\"headers"
    "\":{\"Retry-After\":{\"description\":\"seconds to wait before retrying\",\"schema\":{\"type\":\""
    "integer\"}}}},\"507\":{\"description\":\"The log could not be written (disk full or I/O error); "
    "nothing was stored.\",\"content\":{\"application/json\":{\"schema\":{\"oneOf\":[{\"$ref\":\"#/co"
    "mponents/schemas/Message\"},{\"$ref\":\"#/components/schemas/BatchResult\"}]}}}}}}},\"/v1/orders"
    "\":{\"post\":{\"summary\":\"Create orders: one object, an array, or NDJSON; per-row results\",\""
    "description\":\"Rows are validated one by one. Good rows are stored; bad rows are reported and k"
    "ept in the quarantine (GET /v1/quarantine). The reply is sent once every accepted row is durable"
    ". A body that is not JSON, not an object or array, or has no rows gets a 422 {\\\"detail\\\":["
    "\\u2026]} and nothing is stored.\",\"security\":[{\"bearer\":[]},{}],\"requestBody\":{\"required"
    "\":true,\"content\":{\"application/json\":{\"schema\":{\"oneOf\":[{\"$ref\":\"#/components/schem"
    "as/Order\"},{\"type\":\"array\",\"items\":{\"$ref\":\"#/components/schemas/Order\"}}]}},\"applic"
    "ation/x-ndjson\":{\"schema\":{\"type\":\"string\",\"description\":\"One Order per line; blank li"
    "nes are skipped. Also accepted: application/ndjson, application/jsonl.\"}}}},\"responses\":{\"20"
    "1\":{\"description\":\"Every row accepted.\",\"content\":{\"application/json\":{\"schema\":{\"$r"
    "ef\":\"#/components/schemas/BatchResult\"}}}},\"207\":{\"description\":\"Some rows accepted, som"
    "e rejected.\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Bat"
    "chResult\"}}}},\"422\":{\"description\":\"No row accepted (BatchResult), or the body is unusable"
    " (HTTPValidationError).\",\"content\":{\"application/json\":{\"schema\":{\"oneOf\":[{\"$ref\":\""
    "#/components/schemas/BatchResult\"},{\"$ref\":\"#/components/schemas/HTTPValidationError\"}]}}}}"
    ",\"401\":{\"description\":\"No or wrong API key (only when the server has API keys): {\\\"detail"
    "\\\":\\\"Not authenticated: \\u2026\\\"} or {\\\"detail\\\":\\\"Invalid API key\\\"}. Header WWW"
    "-Authenticate: Bearer.\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/"
    "schemas/Message\"}}}},"
    "\"404\":{\"description\":\"This server does not ingest orders (salesflow serve has no log): {\\\"detail\\\":\\\"this server does not ingest orders\\\"}; retrying never helps.\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Message\"}}}},"
    "\"408\":{\"description\":\"The headers or the body did not arrive within t"
    "he read timeouts (--header-timeout, --body-timeout); the connection is closed.\",\"content\":{\""
    "application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Message\"}}}},\"413\":{\"descrip"
    "tion\":\"Body larger than the limit (1 MiB for /orderitem, --max-body for /v1/orders), or more r"
    "ows than --max-batch.\",\"content\":{\"application/json\":{\"schema\":{\"oneOf\":[{\"$ref\":\"#/"
    "components/schemas/Message\"},{\"$ref\":\"#/components/schemas/HTTPValidationError\"}]}}}},\"415"
    "\":{\"description\":\"Content-Type missing or not JSON (or NDJSON for /v1/orders).\",\"content\":{\"appl"
    "ication/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Message\"}}}},\"431\":{\"description"
    "\":\"Request headers too large (about 32 KiB in all).\"},\"503\":{\"description\":\"The log's ap"
    "pend queue is full, too many request bodies are in memory, or the server is shutting down: retry"
    " after Retry-After seconds.\",\"content\":{\"application/json\":{\"schema\":{\"oneOf\":[{\"$ref"
    "\":\"#/components/schemas/Message\"},{\"$ref\":\"#/components/schemas/BatchResult\"}]}}},\"heade"
    "rs\":{\"Retry-After\":{\"description\":\"seconds to wait before retrying\",\"schema\":{\"type\":"
    "\"integer\"}}}},\"507\":{\"description\":\"The log could not be written (disk full or I/O error)"
    "; nothing was stored.\",\"content\":{\"application/json\":{\"schema\":{\"oneOf\":[{\"$ref\":\"#/"
    "components/schemas/Message\"},{\"$ref\":\"#/components/schemas/BatchResult\"}]}}}}}}},\"/v1/quar"
    "antine\":{\"get\":{\"summary\":\"The most recent rejected rows, newest first\",\"security\":[{\""
    "bearer\":[]},{}],\"parameters\":[{\"name\":\"limit\",\"in\":\"query\",\"schema\":{\"type\":\"int"
    "eger\",\"minimum\":1,\"maximum\":1000,\"default\":100}},{\"name\":\"before\",\"in\":\"query\",\""
    "description\":\"Cursor: the before= value of an earlier answer's next link\",\"schema\":{\"type\""
    ":\"integer\",\"minimum\":0}}],\"responses\":{\"200\":{\"description\""
    ":\"Rejected rows. An answer is at most 1 MiB: when that cuts the list short, truncated is true a"
    "nd next is the path of the rest.\",\"content\":{\"application/json\":{\"schema\":{\"type\":\"object\",\"propert"
    "ies\":{\"count\":{\"type\":\"integer\"},\"items\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/co"
    "mponents/schemas/QuarantineItem\"}},\"truncated\":{\"type\":\"boolean\"},\"next\":{\"type\":\"st"
    "ring\"}}}}}},\"422\":{\"description\":\"Bad limit or before.\",\"content\":{\""
    "application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/HTTPValidationError\"}}}},\"401"
    "\":{\"description\":\"No or wrong API key (only when the server has API keys): {\\\"detail\\\":"
    "\\\"Not authenticated: \\u2026\\\"} or {\\\"detail\\\":\\\"Invalid API key\\\"}. Header WWW-Auth"
    "enticate: Bearer.\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schem"
    "as/Message\"}}}}}}},\"/api/sales\":{\"get\":{\"summary\":\"The sales aggregate per (source, stat"
    "e), largest amount first, with totals and the lists of sources and states\",\"parameters\":[{\"n"
    "ame\":\"source\",\"in\":\"query\",\"required\":false,\"description\":\"A source, or several as s"
    "ource=A,B or repeated.\",\"schema\":{\"type\":\"string\"}},{\"name\":\"state\",\"in\":\"query\","
    "\"required\":false,\"description\":\"A state, or several as above.\",\"schema\":{\"type\":\"stri"
    "ng\"}}],\"responses\":{\"200\":{\"description\":\"{rows:[{source,state,total_sum_amount,order_co"
    "unt,quantity,updated_at}], total_sum_amount, order_count, quantity, updated_at, sources, states,"
    " filters}.\",\"content\":{\"application/json\":{\"schema\":{\"type\":\"object\"}}}},\"400\":{\"d"
    "escription\":\"Unknown or bad query parameter: {\\\"detail\\\":\\\"...\\\"}.\",\"content\":{\"ap"
    "plication/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Message\"}}}},\"503\":{\"descripti"
    "on\":\"The store cannot answer: {\\\"detail\\\":\\\"store unavailable\\\"}; the reason is in the server's log.\",\"content\":{\"application/json\":{\"sche"
    "ma\":{\"$ref\":\"#/components/schemas/Message\"}}}}}}},\"/api/sales/minute\":{\"get\":{\"summary"
    "\":\"sales_minute summed per (minute, source) over a time range\",\"parameters\":[{\"name\":\"so"
    "urce\",\"in\":\"query\",\"required\":false,\"description\":\"A source, or several as source=A,B "
    "or repeated.\",\"schema\":{\"type\":\"string\"}},{\"name\":\"state\",\"in\":\"query\",\"required"
    "\":false,\"description\":\"A state, or several as above.\",\"schema\":{\"type\":\"string\"}},{\""
    "name\":\"from\",\"in\":\"query\",\"required\":false,\"description\":\"RFC 3339, now, or a time b"
    "efore now (-90s, -15m, -1h, -1d); rounded down to a minute. Default: one hour before to.\",\"sch"
    "ema\":{\"type\":\"string\"}},{\"name\":\"to\",\"in\":\"query\",\"required\":false,\"description"
    "\":\"As from; exclusive, rounded up. Default: the end of the current minute. At most 7 days afte"
    "r from.\",\"schema\":{\"type\":\"string\"}}],\"responses\":{\"200\":{\"description\":\"{from, to"
    ", step_s, rows:[{minute, source, total, order_count, quantity}], total, order_count, quantity, s"
    "ources, filters}; only minutes with sales, by created_at.\",\"content\":{\"application/json\":{"
    "\"schema\":{\"type\":\"object\"}}}},\"400\":{\"description\":\"Unknown or bad query parameter: {"
    "\\\"detail\\\":\\\"...\\\"}.\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/compo"
    "nents/schemas/Message\"}}}},\"503\":{\"description\":\"The store cannot answer: {\\\"detail\\\":\\\"store unavailable\\\"}; the reason is in the server's log.\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Message\"}"
    "}}}}}},\"/api/sales/second\":{\"get\":{\"summary\":\"Orders and revenue per second that reached "
    "the store\",\"parameters\":[{\"name\":\"source\",\"in\":\"query\",\"required\":false,\"descripti"
    "on\":\"A source, or several as source=A,B or repeated.\",\"schema\":{\"type\":\"string\"}},{\"na"
    "me\":\"state\",\"in\":\"query\",\"required\":false,\"description\":\"A state, or several as abov"
    "e.\",\"schema\":{\"type\":\"string\"}},{\"name\":\"window\",\"in\":\"query\",\"required\":false,"
    "\"description\":\"Seconds, 10-300 (default 300).\",\"schema\":{\"type\":\"integer\",\"minimum\":"
    "10,\"maximum\":300}}],\"responses\":{\"200\":{\"description\":\"{step_s, window_s, points:[{t, o"
    "rders, total}], filters}: what reached the store each second (processing time), kept for 5 minut"
    "es.\",\"content\":{\"application/json\":{\"schema\":{\"type\":\"object\"}}}},\"400\":{\"descript"
    "ion\":\"Unknown or bad query parameter: {\\\"detail\\\":\\\"...\\\"}.\",\"content\":{\"applicati"
    "on/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Message\"}}}},\"503\":{\"description\":\""
    "The store cannot answer: {\\\"detail\\\":\\\"store unavailable\\\"}; the reason is in the server's log.\",\"content\":{\"application/json\":{\"schema\":{"
    "\"$ref\":\"#/components/schemas/Message\"}}}}}}},\"/api/orders\":{\"get\":{\"summary\":\"The lat"
    "est orders, newest created_at first\",\"parameters\":[{\"name\":\"source\",\"in\":\"query\",\"re"
    "quired\":false,\"description\":\"A source, or several as source=A,B or repeated.\",\"schema\":{"
    "\"type\":\"string\"}},{\"name\":\"state\",\"in\":\"query\",\"required\":false,\"description\":\""
    "A state, or several as above.\",\"schema\":{\"type\":\"string\"}},{\"name\":\"limit\",\"in\":\"q"
    "uery\",\"required\":false,\"description\":\"1-500 (default 20).\",\"schema\":{\"type\":\"integer"
    "\",\"minimum\":1,\"maximum\":500}}],\"responses\":{\"200\":{\"description\":\"{limit, orders:[{o"
    "rder_id, customer_id, source, state, quantity, total, created_at}], filters}.\",\"content\":{\"a"
    "pplication/json\":{\"schema\":{\"type\":\"object\"}}}},\"400\":{\"description\":\"Unknown or bad"
    " query parameter: {\\\"detail\\\":\\\"...\\\"}.\",\"content\":{\"application/json\":{\"schema\":"
    "{\"$ref\":\"#/components/schemas/Message\"}}}},\"503\":{\"description\":\"The store cannot answer: {\\\"detail\\\":\\\"store unavailable\\\"}; the reason is in the server's log.\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components"
    "/schemas/Message\"}}}}}}},\"/api/pipeline\":{\"get\":{\"summary\":\"Ingest rate, processor commi"
    "ts and lag per partition, rejected and quarantined counts, last commit time, live streams\",\"re"
    "sponses\":{\"200\":{\"description\":\"The pipeline panel's figures.\",\"content\":{\"application"
    "/json\":{\"schema\":{\"type\":\"object\"}}}},\"503\":{\"description\":\"The store cannot answer: {\\\"detail\\\":\\\"store unavailable\\\"}; the reason is in the server's log.\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/s"
    "chemas/Message\"}}}}}}},\"/api/stream\":{\"get\":{\"summary\":\"Server-Sent Events: a notice aft"
    "er each store commit\",\"responses\":{\"200\":{\"description\":\"text/event-stream; reconnect wi"
    "th Last-Event-ID.\",\"content\":{\"text/event-stream\":{\"schema\":{\"type\":\"string\"}}}},\"50"
    "3\":{\"description\":\"256 streams are open already (Retry-After), or no store here.\"},\"429\":{\"description\":\"8 streams from this client address are open already (Retry-After).\"}}}},\"/he"
    "althz\":{\"get\":{\"summary\":\"Liveness\",\"responses\":{\"200\":{\"description\":\"Alive.\"}}}"
    "},\"/readyz\":{\"get\":{\"summary\":\"Readiness: the log is open, the store answers, the process"
    "or is within --ready-lag of the log end and commits (not after 3 failed commits in a row, n"
    "or 30 s without a commit while records wait)\",\"responses\":{\"200\":{\"description\":\"{checks:{log"
    ", store, processor, processor_lag}, ready:true}.\",\"content\":{\"application/json\":{\"schema\""
    ":{\"type\":\"object\"}}}},\"503\":{\"description\":\"The same with ready:false and the failing c"
    "heck's reason.\",\"content\":{\"application/json\":{\"schema\":{\"type\":\"object\"}}}}}}},\"/me"
    "trics\":{\"get\":{\"summary\":\"Prometheus text exposition (HTTP, ingest, log, processor, store,"
    " process metrics)\",\"responses\":{\"200\":{\"description\":\"text/plain; version=0.0.4.\",\"con"
    "tent\":{\"text/plain\":{\"schema\":{\"type\":\"string\"}}}}}}},\"/\":{\"get\":{\"summary\":\"The"
    " dashboard (HTML)\",\"responses\":{\"200\":{\"description\":\"HTML page.\"}}}},\"/app.js\":{\"ge"
    "t\":{\"summary\":\"A file of the dashboard (embedded in the binary)\",\"responses\":{\"200\":{\""
    "description\":\"The file.\"}}}},\"/style.css\":{\"get\":{\"summary\":\"A file of the dashboard ("
    "embedded in the binary)\",\"responses\":{\"200\":{\"description\":\"The file.\"}}}},\"/echarts.m"
    "in.js\":{\"get\":{\"summary\":\"A file of the dashboard (embedded in the binary)\",\"responses\""
    ":{\"200\":{\"description\":\"The file.\"}}}},\"/openapi.json\":{\"get\":{\"summary\":\"This docu"
    "ment\",\"responses\":{\"200\":{\"description\":\"OpenAPI 3.1.\"}}}},\"/docs\":{\"get\":{\"summar"
    "y\":\"This document rendered as a page (no network needed)\",\"responses\":{\"200\":{\"descripti"
    "on\":\"HTML page.\"}}}}}}";

static const char docs_head[] =
    "<!doctype html><html lang=en><head><meta charset=utf-8>"
    "<meta name=viewport content=\"width=device-width,initial-scale=1\">"
    "<title>salesflow API</title><style nonce=\"";
/* docs_head NONCE docs_head_b SPEC docs_tail_a NONCE docs_tail_b */
static const char docs_head_b[] =
    "\">"
    "body{font:15px/1.5 system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222}"
    "h2{border-bottom:1px solid #ddd;margin-top:2em}code,pre{background:#f5f5f5;border-radius:3px}"
    "pre{padding:.6em;overflow:auto;font-size:13px}.m{display:inline-block;min-width:4em;"
    "font-weight:bold;color:#fff;border-radius:3px;padding:0 .4em;text-align:center}"
    ".get{background:#2a7ab0}.post{background:#3a9a4a}table{border-collapse:collapse}"
    "td,th{border:1px solid #ddd;padding:.2em .5em;vertical-align:top;text-align:left}"
    "</style></head><body><div id=doc>Loading…</div>"
    "<script type=\"application/json\" id=spec>";

static const char docs_tail_a[] = "</script><script nonce=\"";
static const char docs_tail_b[] =
    "\">"
    "(function(){var s=JSON.parse(document.getElementById('spec').textContent);"
    "function e(t){return String(t).replace(/[&<>]/g,function(c){return{'&':'&amp;','<':'&lt;','>':'&gt;'}[c]})}"
    "function ref(x){if(x&&x.$ref){var n=x.$ref.split('/').pop();return s.components.schemas[n]}return x}"
    "function sch(x){return '<pre>'+e(JSON.stringify(x,null,2))+'</pre>'}"
    "var h='<h1>'+e(s.info.title)+' API '+e(s.info.version)+'</h1><p>'+e(s.info.description)+'</p>';"
    "for(var p in s.paths)for(var m in s.paths[p]){var o=s.paths[p][m];"
    "h+='<h2><span class=\"m '+m+'\">'+m.toUpperCase()+'</span> <code>'+e(p)+'</code></h2><p><b>'+e(o.summary)+'</b></p>';"
    "if(o.description)h+='<p>'+e(o.description)+'</p>';"
    "if(o.security)h+='<p>Needs <code>Authorization: Bearer KEY</code> when the server has API keys.</p>';"
    "if(o.parameters){h+='<h3>Parameters</h3><table><tr><th>name</th><th>in</th><th>schema</th></tr>';"
    "o.parameters.forEach(function(q){h+='<tr><td><code>'+e(q.name)+'</code></td><td>'+e(q.in)+'</td><td>'+e(JSON.stringify(q.schema))+'</td></tr>'});h+='</table>'}"
    "if(o.requestBody){h+='<h3>Request body</h3>';for(var c in o.requestBody.content){"
    "h+='<p><code>'+e(c)+'</code></p>'+sch(o.requestBody.content[c].schema)}}"
    "h+='<h3>Responses</h3><table><tr><th>status</th><th>meaning</th></tr>';"
    "for(var st in o.responses){h+='<tr><td><b>'+st+'</b></td><td>'+e(o.responses[st].description)+'</td></tr>'}"
    "h+='</table>'}"
    "h+='<h2>Schemas</h2>';for(var n in s.components.schemas){var x=s.components.schemas[n];"
    "h+='<h3 id=\"'+n+'\">'+n+'</h3>';if(x.description)h+='<p>'+e(x.description)+'</p>';"
    "if(x.properties){h+='<table><tr><th>field</th><th>type</th><th>description</th></tr>';"
    "for(var f in x.properties){var y=ref(x.properties[f]);"
    "h+='<tr><td><code>'+e(f)+'</code>'+((x.required||[]).indexOf(f)>=0?' <b>required</b>':'')+'</td><td>'"
    "+e(y.type||(y.oneOf?'one of':'')||(y.const!==undefined?JSON.stringify(y.const):''))"
    "+(y.enum?'<br>'+e(y.enum.join(' | ')):'')+'</td><td>'+e(y.description||'')+'</td></tr>'}h+='</table>'}"
    "else h+=sch(x)}"
    "document.getElementById('doc').innerHTML=h;})();"
    "</script></body></html>";

/* The spec with the configured sources in place of the defaults. */
static int build_spec(struct sf_buf *out)
{
    static const char dflt[] = "\"enum\":[\"Dine In\",\"Takeaway\",\"Home Delivery\"]";
    const char *at = strstr(spec, dflt);
    if (!at)
        return sf_buf_append(out, spec, sizeof(spec) - 1);
    int rc = sf_buf_append(out, spec, (size_t)(at - spec));
    rc |= SF_BUF_LIT(out, "\"enum\":[");
    for (size_t i = 0; i < sf_source_count; i++) {
        if (i)
            rc |= SF_BUF_LIT(out, ",");
        rc |= sf_buf_json_str(out, sf_sources[i]);
    }
    rc |= SF_BUF_LIT(out, "]");
    at += sizeof(dflt) - 1;
    rc |= sf_buf_append(out, at, strlen(at));
    return rc ? -1 : 0;
}

enum http_result ingest_openapi(struct http_req *r)
{
    struct sf_buf b;
    sf_buf_init(&b, sizeof(spec) + 4096);
    if (build_spec(&b)) {
        sf_buf_free(&b);
        return http_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    }
    enum http_result rc = http_reply_json(r, MHD_HTTP_OK, b.data);
    sf_buf_free(&b);
    return rc;
}

/* Append json to out for a <script> block of HTML: the characters that
 * could end the block or the line of a script, which in valid JSON appear
 * only inside strings, as \u escapes. */
static int append_html_safe(struct sf_buf *out, const char *json, size_t n)
{
    int rc = 0;
    size_t from = 0;
    for (size_t i = 0; i < n; i++) {
        const unsigned char *p = (const unsigned char *)json + i;
        const char *esc = NULL;
        size_t skip = 1;
        if (*p == '<')
            esc = "\\u003c";
        else if (*p == '>')
            esc = "\\u003e";
        else if (*p == '&')
            esc = "\\u0026";
        else if (*p == 0xe2 && i + 2 < n && p[1] == 0x80 && (p[2] == 0xa8 || p[2] == 0xa9)) {
            esc = p[2] == 0xa8 ? "\\u2028" : "\\u2029";
            skip = 3;
        }
        if (!esc)
            continue;
        rc |= sf_buf_append(out, json + from, i - from);
        rc |= sf_buf_append(out, esc, 6);
        i += skip - 1;
        from = i + 1;
    }
    rc |= sf_buf_append(out, json + from, n - from);
    return rc ? -1 : 0;
}

enum http_result ingest_docs(struct http_req *r)
{
    struct sf_buf spec_b, b;
    unsigned char rnd[16];
    char nonce[33], csp[256];
    /* getrandom fails only before the kernel has entropy; a nonce from the
     * clock then still changes with each answer. */
    if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t)sizeof(rnd)) {
        uint64_t t = (uint64_t)sf_mono_ms() ^ ((uint64_t)sf_now_ms() << 20);
        for (size_t i = 0; i < sizeof(rnd); i++)
            rnd[i] = (unsigned char)(t >> (i % 8 * 8)) ^ (unsigned char)(i * 131);
    }
    for (size_t i = 0; i < sizeof(rnd); i++)
        snprintf(nonce + 2 * i, 3, "%02x", rnd[i]);
    snprintf(csp, sizeof(csp), "default-src 'none'; script-src 'nonce-%s'; "
             "style-src 'nonce-%s'; "
             "frame-ancestors 'none'; base-uri 'none'; form-action 'none'", nonce, nonce);

    sf_buf_init(&spec_b, sizeof(spec) + 4096);
    sf_buf_init(&b, 2 * sizeof(spec) + sizeof(docs_head) + sizeof(docs_head_b) +
                        sizeof(docs_tail_b) + 4096);
    int rc = build_spec(&spec_b);
    rc |= sf_buf_append(&b, docs_head, sizeof(docs_head) - 1);
    rc |= sf_buf_append(&b, nonce, strlen(nonce));
    rc |= sf_buf_append(&b, docs_head_b, sizeof(docs_head_b) - 1);
    if (!rc)
        rc |= append_html_safe(&b, spec_b.data, spec_b.len);
    rc |= sf_buf_append(&b, docs_tail_a, sizeof(docs_tail_a) - 1);
    rc |= sf_buf_append(&b, nonce, strlen(nonce));
    rc |= sf_buf_append(&b, docs_tail_b, sizeof(docs_tail_b) - 1);
    sf_buf_free(&spec_b);
    if (rc || !b.data) {
        sf_buf_free(&b);
        return http_error(r, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    }
    /* A GET: always libmicrohttpd's connection (the fast path takes only
     * the ingestion POSTs). */
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(b.len, b.data, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        sf_buf_free(&b);
        return HTTP_CLOSE;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/html; charset=utf-8");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "Content-Security-Policy", csp);
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    enum http_result res = http_mhd_queue(r, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return res;
}
