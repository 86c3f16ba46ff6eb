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
    "},\"order_id\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":64,\"pattern\":\"^[\\\\x20-\\"
    "\\x7e]+$\",\"description\":\"Idempotency key. An order_id seen within --dedupe-window (default 2"
    "4 h, survives restarts) is answered with the first result and not stored again. Default: a serve"
    "r UUIDv7.\"},\"created_at\":{\"type\":\"string\",\"description\":\"Event time: RFC 3339 (2026-11"
    "-29T03:40:00Z, offset and fraction optional) or the original \\\"%m/%d/%Y, %H:%M:%S\\\" (UTC). D"
    "efault: server UTC now.\"},\"unit_price\":{\"oneOf\":[{\"type\":\"number\",\"minimum\":0},{\"typ"
    "e\":\"string\"}],\"description\":\"Decimal >= 0 with at most 2 decimals, as a number or a string"
    " (\\\"12.50\\\"); at most 1000000000000.00. Default: --unit-price (300.00). total = quantity x u"
    "nit_price.\"}},\"example\":{\"customer_id\":3,\"source\":\"Dine In\",\"quantity\":7}},\"Validati"
    "onError\":{\"type\":\"object\",\"required\":[\"loc\",\"msg\",\"type\"],\"properties\":{\"loc\":{"
    "\"type\":\"array\",\"items\":{\"oneOf\":[{\"type\":\"string\"},{\"type\":\"integer\"}]},\"descri"
    "ption\":\"[\\\"body\\\", field], [\\\"body\\\", row, field] in a batch, [\\\"body\\\"] for the w"
    "hole body, [\\\"query\\\", name].\"},\"msg\":{\"type\":\"string\",\"description\":\"What is wron"
    "g, for a person.\"},\"type\":{\"type\":\"string\",\"description\":\"pydantic's error type: missi"
    "ng, int_type, int_parsing, int_from_float, int_parsing_size, string_type, literal_error, greater"
    "_than_equal, less_than_equal, value_error, json_invalid, model_attributes_type, extra_forbidden,"
    " string_too_short, string_too_long, string_pattern_mismatch, datetime_type, datetime_parsing, de"
    "cimal_type, decimal_parsing, decimal_max_places, too_short, too_long; and for rows the log refus"
    "ed: unavailable, storage_error.\"}}},\"HTTPValidationError\":{\"type\":\"object\",\"properties\""
    ":{\"detail\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/components/schemas/ValidationError\"}}}"
    "},\"Message\":{\"type\":\"object\",\"properties\":{\"detail\":{\"type\":\"string\"}}},\"OrderIte"
    "mCreated\":{\"type\":\"object\",\"properties\":{\"status\":{\"const\":\"success\"},\"message\":{"
    "\"const\":\"Stock entry created\"},\"order_id\":{\"type\":\"string\"}}},\"RowResult\":{\"oneOf\""
    ":[{\"type\":\"object\",\"required\":[\"index\",\"order_id\"],\"properties\":{\"index\":{\"type\""
    ":\"integer\"},\"order_id\":{\"type\":\"string\"},\"duplicate\":{\"type\":\"boolean\",\"descripti"
    "on\":\"true: the order_id was stored before (or earlier in this request); it was not stored agai"
    "n\"}}},{\"type\":\"object\",\"required\":[\"index\",\"detail\"],\"properties\":{\"index\":{\"typ"
    "e\":\"integer\"},\"detail\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/components/schemas/Valid"
    "ationError\"}}}}]},\"BatchResult\":{\"type\":\"object\",\"required\":[\"accepted\",\"rejected\","
    "\"results\"],\"properties\":{\"accepted\":{\"type\":\"integer\"},\"rejected\":{\"type\":\"intege"
    "r\"},\"results\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/components/schemas/RowResult\"},\"d"
    "escription\":\"One per row, in request order.\"}}},\"QuarantineItem\":{\"type\":\"object\",\"pro"
    "perties\":{\"time\":{\"type\":\"string\"},\"endpoint\":{\"type\":\"string\"},\"index\":{\"type\""
    ":\"integer\"},\"detail\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/components/schemas/Validati"
    "onError\"}},\"detail_truncated\":{\"type\":\"boolean\",\"description\":\"Present (true) when onl"
    "y the first entries of a detail over 4 KiB are kept\"},\"raw\":{\"type\":\"string\",\"descriptio"
    "n\":\"The start of the row as sent: at most 4 KiB once escaped for JSON (invalid UTF-8 replaced "
    "by U+FFFD)\"},\"raw_length\":{\"type\":\"integer\",\"description\":\"The row's full length in by"
    "tes\"},\"raw_truncated\":{\"type\":\"boolean\",\"description\":\"raw is only the start of the ro"
    "w\"},\"raw_lossy\":{\"type\":\"boolean\"}}},\"OrderItem\":{\"type\":\"object\",\"additionalPrope"
    "rties\":true,\"required\":[\"customer_id\",\"source\",\"quantity\"],\"description\":\"An order a"
    "s POST /orderitem takes it: as Order, but fields an order does not have are ignored (refused wit"
    "h --strict-orderitem).\",\"properties\":{\"customer_id\":{\"type\":\"integer\",\"minimum\":1,\"d"
    "escription\":\"A customer of the catalog (--customers, reloaded on SIGHUP). Also accepted: a who"
    "le float (3.0) or a string of digits (\\\"3\\\").\"},\"source\":{\"type\":\"string\",\"enum\":["
    "\"Dine In\",\"Takeaway\",\"Home Delivery\"],\"description\":\"One of the configured sources (--s"
    "ources; these are the defaults).\"},\"quantity\":{\"type\":\"integer\",\"minimum\":1,\"maximum\""
    ":1000000,\"description\":\"Units; lax integers as for customer_id.\"},\"order_id\":{\"type\":\"s"
    "tring\",\"minLength\":1,\"maxLength\":64,\"pattern\":\"^[\\\\x20-\\\\x7e]+$\",\"description\":\""
    "Idempotency key. An order_id seen within --dedupe-window (default 24 h, survives restarts) is an"
    "swered with the first result and not stored again. Default: a server UUIDv7.\"},\"created_at\":{"
    "\"type\":\"string\",\"description\":\"Event time: RFC 3339 (2026-11-29T03:40:00Z, offset and fra"
    "ction optional) or the original \\\"%m/%d/%Y, %H:%M:%S\\\" (UTC). Default: server UTC now.\"},\""
    "unit_price\":{\"oneOf\":[{\"type\":\"number\",\"minimum\":0},{\"type\":\"string\"}],\"descriptio"
    "n\":\"Decimal >= 0 with at most 2 decimals, as a number or a string (\\\"12.50\\\"); at most 100"
    "0000000000.00. Default: --unit-price (300.00). total = quantity x unit_price.\"}},\"example\":{"
    "\"customer_id\":3,\"source\":\"Dine In\",\"quantity\":7}}}},\"paths\":{\"/orderitem\":{\"post\":"
    "{\"summary\":\"Create one order (the original FastAPI endpoint)\",\"security\":[{\"bearer\":[]},"
    "{}],\"requestBody\":{\"required\":true,\"content\":{\"application/json\":{\"schema\":{\"$ref\":"
    "\"#/components/schemas/OrderItem\"}}}},\"responses\":{\"201\":{\"description\":\"Stored durably "
    "(or an order_id stored before).\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/co"
    "mponents/schemas/OrderItemCreated\"}}}},\"422\":{\"description\":\"Invalid order or malformed JS"
    "ON: one entry per problem.\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/compone"
    "nts/schemas/HTTPValidationError\"}}}},\"401\":{\"description\":\"No or wrong API key (only when "
    "the server has API keys): {\\\"detail\\\":\\\"Not authenticated: …\\\"} or {\\\"detail\\\":\\"
    "\"Invalid API key\\\"}. Header WWW-Authenticate: Bearer.\",\"content\":{\"application/json\":{\""
    "schema\":{\"$ref\":\"#/components/schemas/Message\"}}}},\"404\":{\"description\":\"This server d"
    "oes not ingest orders (salesflow serve has no log): {\\\"detail\\\":\\\"this server does not ing"
    "est orders\\\"}; retrying never helps.\",\"content\":{\"application/json\":{\"schema\":{\"$ref\""
    ":\"#/components/schemas/Message\"}}}},\"408\":{\"description\":\"The headers or the body did not"
    " arrive within the read timeouts (--header-timeout, --body-timeout); the connection is closed.\""
    ",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Message\"}}}},\""
    "413\":{\"description\":\"Body larger than the limit (1 MiB for /orderitem, --max-body for /v1/or"
    "ders), or more rows than --max-batch (as sent or once decoded)\",\"content\":{\"application/json"
    "\":{\"schema\":{\"oneOf\":[{\"$ref\":\"#/components/schemas/Message\"},{\"$ref\":\"#/components/"
    "schemas/HTTPValidationError\"}]}}}},\"415\":{\"description\":\"Content-Type missing or not JSON "
    "(or NDJSON for /v1/orders); or a Content-Encoding other than gzip, x-gzip, zstd or identity, or "
    "several stacked (answered with Accept-Encoding: gzip, zstd)\",\"content\":{\"application/json\":"
    "{\"schema\":{\"$ref\":\"#/components/schemas/Message\"}}}},\"431\":{\"description\":\"Request he"
    "aders too large (about 32 KiB in all).\"},\"503\":{\"description\":\"The log's append queue is f"
    "ull, too many request bodies are in memory, or the server is shutting down: retry after Retry-Af"
    "ter seconds.\",\"content\":{\"application/json\":{\"schema\":{\"oneOf\":[{\"$ref\":\"#/component"
    "s/schemas/Message\"},{\"$ref\":\"#/components/schemas/BatchResult\"}]}}},\"headers\":{\"Retry-Af"
    "ter\":{\"description\":\"seconds to wait before retrying\",\"schema\":{\"type\":\"integer\"}}}},"
    "\"507\":{\"description\":\"The log could not be written (disk full or I/O error); nothing was st"
    "ored.\",\"content\":{\"application/json\":{\"schema\":{\"oneOf\":[{\"$ref\":\"#/components/schem"
    "as/Message\"},{\"$ref\":\"#/components/schemas/BatchResult\"}]}}}},\"400\":{\"content\":{\"appli"
    "cation/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Message\"}}},\"description\":\"The bo"
    "dy is not what its Content-Encoding says (not gzip/zstd, cut short, corrupt), or the request hea"
    "d breaks the framing rules\"}},\"parameters\":[{\"name\":\"Content-Encoding\",\"in\":\"header\","
    "\"required\":false,\"description\":\"gzip (or x-gzip) or zstd: the body is compressed; the size "
    "limit applies to the decoded body too. Absent or identity: plain.\",\"schema\":{\"type\":\"strin"
    "g\",\"enum\":[\"gzip\",\"x-gzip\",\"zstd\",\"identity\"]}}],\"description\":\"Fields an order do"
    "es not have are ignored, as the original service did (422 with --strict-orderitem).\"}},\"/v1/or"
    "ders\":{\"post\":{\"summary\":\"Create orders: one object, an array, or NDJSON; per-row results"
    "\",\"description\":\"Rows are validated one by one. Good rows are stored; bad rows are reported "
    "and kept in the quarantine (GET /v1/quarantine). The reply is sent once every accepted row is du"
    "rable. A body that is not JSON, not an object or array, or has no rows gets a 422 {\\\"detail\\"
    "\":[…]} and nothing is stored.\",\"security\":[{\"bearer\":[]},{}],\"requestBody\":{\"required"
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
    "\\\":\\\"Not authenticated: …\\\"} or {\\\"detail\\\":\\\"Invalid API key\\\"}. Header WWW-Aut"
    "henticate: Bearer.\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/sche"
    "mas/Message\"}}}},\"404\":{\"description\":\"This server does not ingest orders (salesflow serve"
    " has no log): {\\\"detail\\\":\\\"this server does not ingest orders\\\"}; retrying never helps."
    "\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Message\"}}}},"
    "\"408\":{\"description\":\"The headers or the body did not arrive within the read timeouts (--he"
    "ader-timeout, --body-timeout); the connection is closed.\",\"content\":{\"application/json\":{\""
    "schema\":{\"$ref\":\"#/components/schemas/Message\"}}}},\"413\":{\"description\":\"Body larger t"
    "han the limit (1 MiB for /orderitem, --max-body for /v1/orders), or more rows than --max-batch ("
    "as sent or once decoded)\",\"content\":{\"application/json\":{\"schema\":{\"oneOf\":[{\"$ref\":"
    "\"#/components/schemas/Message\"},{\"$ref\":\"#/components/schemas/HTTPValidationError\"}]}}}},"
    "\"415\":{\"description\":\"Content-Type missing or not JSON (or NDJSON for /v1/orders); or a Con"
    "tent-Encoding other than gzip, x-gzip, zstd or identity, or several stacked (answered with Accep"
    "t-Encoding: gzip, zstd)\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components"
    "/schemas/Message\"}}}},\"431\":{\"description\":\"Request headers too large (about 32 KiB in all"
    ").\"},\"503\":{\"description\":\"The log's append queue is full, too many request bodies are in "
    "memory, or the server is shutting down: retry after Retry-After seconds.\",\"content\":{\"applic"
    "ation/json\":{\"schema\":{\"oneOf\":[{\"$ref\":\"#/components/schemas/Message\"},{\"$ref\":\"#/c"
    "omponents/schemas/BatchResult\"}]}}},\"headers\":{\"Retry-After\":{\"description\":\"seconds to "
    "wait before retrying\",\"schema\":{\"type\":\"integer\"}}}},\"507\":{\"description\":\"The log c"
    "ould not be written (disk full or I/O error); nothing was stored.\",\"content\":{\"application/j"
    "son\":{\"schema\":{\"oneOf\":[{\"$ref\":\"#/components/schemas/Message\"},{\"$ref\":\"#/componen"
    "ts/schemas/BatchResult\"}]}}}},\"400\":{\"content\":{\"application/json\":{\"schema\":{\"$ref\":"
    "\"#/components/schemas/Message\"}}},\"description\":\"The body is not what its Content-Encoding "
    "says (not gzip/zstd, cut short, corrupt), or the request head breaks the framing rules\"}},\"par"
    "ameters\":[{\"name\":\"Content-Encoding\",\"in\":\"header\",\"required\":false,\"description\":"
    "\"gzip (or x-gzip) or zstd: the body is compressed; the size limit applies to the decoded body t"
    "oo. Absent or identity: plain.\",\"schema\":{\"type\":\"string\",\"enum\":[\"gzip\",\"x-gzip\","
    "\"zstd\",\"identity\"]}}]}},\"/v1/quarantine\":{\"get\":{\"summary\":\"The most recent rejected "
    "rows, newest first\",\"security\":[{\"bearer\":[]},{}],\"parameters\":[{\"name\":\"limit\",\"in"
    "\":\"query\",\"schema\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":1000,\"default\":100}},{"
    "\"name\":\"before\",\"in\":\"query\",\"description\":\"Cursor: the before= value of an earlier a"
    "nswer's next link\",\"schema\":{\"type\":\"integer\",\"minimum\":0}}],\"responses\":{\"200\":{\""
    "description\":\"Rejected rows. An answer is at most 1 MiB: when that cuts the list short, trunca"
    "ted is true and next is the path of the rest.\",\"content\":{\"application/json\":{\"schema\":{"
    "\"type\":\"object\",\"properties\":{\"count\":{\"type\":\"integer\"},\"items\":{\"type\":\"array"
    "\",\"items\":{\"$ref\":\"#/components/schemas/QuarantineItem\"}},\"truncated\":{\"type\":\"boole"
    "an\"},\"next\":{\"type\":\"string\"}}}}}},\"422\":{\"description\":\"Bad limit or before.\",\"co"
    "ntent\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/HTTPValidationError\""
    "}}}},\"401\":{\"description\":\"No or wrong API key (only when the server has API keys): {\\\"de"
    "tail\\\":\\\"Not authenticated: …\\\"} or {\\\"detail\\\":\\\"Invalid API key\\\"}. Header WWW"
    "-Authenticate: Bearer.\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/"
    "schemas/Message\"}}}}}}},\"/api/sales\":{\"get\":{\"summary\":\"The sales aggregate per (source,"
    " state), largest amount first, with totals and the lists of sources and states\",\"parameters\":"
    "[{\"name\":\"source\",\"in\":\"query\",\"required\":false,\"description\":\"A source, or several"
    " as source=A,B or repeated.\",\"schema\":{\"type\":\"string\"}},{\"name\":\"state\",\"in\":\"que"
    "ry\",\"required\":false,\"description\":\"A state, or several as above.\",\"schema\":{\"type\":"
    "\"string\"}},{\"name\":\"from\",\"in\":\"query\",\"required\":false,\"description\":\"Only order"
    "s created at or after this time. RFC 3339 (2026-12-06T00:00:00Z; fraction and offset optional, 2"
    "026-12-06T00:00:00+02:00), YYYY-MM-DDTHH:MM (UTC), now, or a time before now (-90s, -15m, -1h, -"
    "1d). With from or to, the rows, counts and totals sum the orders created in [from, to) (pairs wi"
    "th none are left out; updated_at stays that of the pair's sales row); sources and states still l"
    "ist every pair stored. Without both, the sales table as it is.\",\"schema\":{\"type\":\"string\""
    "}},{\"name\":\"to\",\"in\":\"query\",\"required\":false,\"description\":\"Only orders created be"
    "fore this time (exclusive). RFC 3339 (2026-12-06T00:00:00Z; fraction and offset optional, 2026-1"
    "2-06T00:00:00+02:00), YYYY-MM-DDTHH:MM (UTC), now, or a time before now (-90s, -15m, -1h, -1d)."
    "\",\"schema\":{\"type\":\"string\"}}],\"responses\":{\"200\":{\"description\":\"{rows:[{source,s"
    "tate,total_sum_amount,order_count,quantity,updated_at}], total_sum_amount, order_count, quantity"
    ", updated_at, sources, states, filters}.\",\"content\":{\"application/json\":{\"schema\":{\"type"
    "\":\"object\"}}}},\"400\":{\"description\":\"Unknown or bad query parameter (also: from after to"
    ", an unparseable time): {\\\"detail\\\":\\\"...\\\"}.\",\"content\":{\"application/json\":{\"sch"
    "ema\":{\"$ref\":\"#/components/schemas/Message\"}}}},\"503\":{\"description\":\"The store cannot"
    " answer: {\\\"detail\\\":\\\"store unavailable\\\"}; the reason is in the server's log.\",\"cont"
    "ent\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Message\"}}}}}}},\"/api"
    "/sales/minute\":{\"get\":{\"summary\":\"sales_minute summed per (minute, source) over a time ran"
    "ge\",\"parameters\":[{\"name\":\"source\",\"in\":\"query\",\"required\":false,\"description\":\""
    "A source, or several as source=A,B or repeated.\",\"schema\":{\"type\":\"string\"}},{\"name\":\""
    "state\",\"in\":\"query\",\"required\":false,\"description\":\"A state, or several as above.\",\""
    "schema\":{\"type\":\"string\"}},{\"name\":\"from\",\"in\":\"query\",\"required\":false,\"descrip"
    "tion\":\"RFC 3339 (offset allowed), YYYY-MM-DDTHH:MM (UTC), now, or a time before now (-90s, -15"
    "m, -1h, -1d); rounded down to a minute. Default: one hour before to.\",\"schema\":{\"type\":\"st"
    "ring\"}},{\"name\":\"to\",\"in\":\"query\",\"required\":false,\"description\":\"As from; exclusi"
    "ve, rounded up. Default: the end of the current minute. At most 7 days after from.\",\"schema\":"
    "{\"type\":\"string\"}}],\"responses\":{\"200\":{\"description\":\"{from, to, step_s, rows:[{minu"
    "te, source, total, order_count, quantity}], total, order_count, quantity, sources, filters}; onl"
    "y minutes with sales, by created_at.\",\"content\":{\"application/json\":{\"schema\":{\"type\":"
    "\"object\"}}}},\"400\":{\"description\":\"Unknown or bad query parameter: {\\\"detail\\\":\\\".."
    ".\\\"}.\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Message"
    "\"}}}},\"503\":{\"description\":\"The store cannot answer: {\\\"detail\\\":\\\"store unavailable"
    "\\\"}; the reason is in the server's log.\",\"content\":{\"application/json\":{\"schema\":{\"$re"
    "f\":\"#/components/schemas/Message\"}}}}}}},\"/api/sales/second\":{\"get\":{\"summary\":\"Orders"
    " and revenue per second that reached the store\",\"parameters\":[{\"name\":\"source\",\"in\":\"q"
    "uery\",\"required\":false,\"description\":\"A source, or several as source=A,B or repeated.\",\""
    "schema\":{\"type\":\"string\"}},{\"name\":\"state\",\"in\":\"query\",\"required\":false,\"descri"
    "ption\":\"A state, or several as above.\",\"schema\":{\"type\":\"string\"}},{\"name\":\"window\""
    ",\"in\":\"query\",\"required\":false,\"description\":\"Seconds, 10-300 (default 300).\",\"schema"
    "\":{\"type\":\"integer\",\"minimum\":10,\"maximum\":300}}],\"responses\":{\"200\":{\"description"
    "\":\"{step_s, window_s, points:[{t, orders, total}], filters}: what reached the store each secon"
    "d (processing time), kept for 5 minutes.\",\"content\":{\"application/json\":{\"schema\":{\"type"
    "\":\"object\"}}}},\"400\":{\"description\":\"Unknown or bad query parameter: {\\\"detail\\\":\\"
    "\"...\\\"}.\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Mes"
    "sage\"}}}},\"503\":{\"description\":\"The store cannot answer: {\\\"detail\\\":\\\"store unavail"
    "able\\\"}; the reason is in the server's log.\",\"content\":{\"application/json\":{\"schema\":{"
    "\"$ref\":\"#/components/schemas/Message\"}}}}}}},\"/api/orders\":{\"get\":{\"summary\":\"The lat"
    "est orders, newest created_at first\",\"parameters\":[{\"name\":\"source\",\"in\":\"query\",\"re"
    "quired\":false,\"description\":\"A source, or several as source=A,B or repeated.\",\"schema\":{"
    "\"type\":\"string\"}},{\"name\":\"state\",\"in\":\"query\",\"required\":false,\"description\":\""
    "A state, or several as above.\",\"schema\":{\"type\":\"string\"}},{\"name\":\"limit\",\"in\":\"q"
    "uery\",\"required\":false,\"description\":\"1-500 (default 20).\",\"schema\":{\"type\":\"integer"
    "\",\"minimum\":1,\"maximum\":500}},{\"name\":\"from\",\"in\":\"query\",\"required\":false,\"desc"
    "ription\":\"Only orders created at or after this time. RFC 3339 (2026-12-06T00:00:00Z; fraction "
    "and offset optional, 2026-12-06T00:00:00+02:00), YYYY-MM-DDTHH:MM (UTC), now, or a time before n"
    "ow (-90s, -15m, -1h, -1d).\",\"schema\":{\"type\":\"string\"}},{\"name\":\"to\",\"in\":\"query\""
    ",\"required\":false,\"description\":\"Only orders created before this time (exclusive). RFC 3339"
    " (2026-12-06T00:00:00Z; fraction and offset optional, 2026-12-06T00:00:00+02:00), YYYY-MM-DDTHH:"
    "MM (UTC), now, or a time before now (-90s, -15m, -1h, -1d).\",\"schema\":{\"type\":\"string\"}}]"
    ",\"responses\":{\"200\":{\"description\":\"{limit, orders:[{order_id, customer_id, source, state"
    ", quantity, total, created_at}], filters}.\",\"content\":{\"application/json\":{\"schema\":{\"ty"
    "pe\":\"object\"}}}},\"400\":{\"description\":\"Unknown or bad query parameter (also: from after "
    "to, an unparseable time): {\\\"detail\\\":\\\"...\\\"}.\",\"content\":{\"application/json\":{\"s"
    "chema\":{\"$ref\":\"#/components/schemas/Message\"}}}},\"503\":{\"description\":\"The store cann"
    "ot answer: {\\\"detail\\\":\\\"store unavailable\\\"}; the reason is in the server's log.\",\"co"
    "ntent\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Message\"}}}}}}},\"/a"
    "pi/pipeline\":{\"get\":{\"summary\":\"Ingest rate, processor commits and lag per partition, reje"
    "cted and quarantined counts, last commit time, live streams\",\"responses\":{\"200\":{\"descript"
    "ion\":\"The pipeline panel's figures.\",\"content\":{\"application/json\":{\"schema\":{\"type\":"
    "\"object\"}}}},\"503\":{\"description\":\"The store cannot answer: {\\\"detail\\\":\\\"store una"
    "vailable\\\"}; the reason is in the server's log.\",\"content\":{\"application/json\":{\"schema"
    "\":{\"$ref\":\"#/components/schemas/Message\"}}}}}}},\"/api/stream\":{\"get\":{\"summary\":\"Ser"
    "ver-Sent Events: a notice after each store commit\",\"responses\":{\"200\":{\"description\":\"te"
    "xt/event-stream; reconnect with Last-Event-ID.\",\"content\":{\"text/event-stream\":{\"schema\":"
    "{\"type\":\"string\"}}}},\"503\":{\"description\":\"256 streams are open already (Retry-After), "
    "or no store here.\"},\"429\":{\"description\":\"8 streams from this client address are open alre"
    "ady (Retry-After).\"}}}},\"/healthz\":{\"get\":{\"summary\":\"Liveness\",\"responses\":{\"200\":"
    "{\"description\":\"Alive.\"}}}},\"/readyz\":{\"get\":{\"summary\":\"Readiness: the log is open, "
    "the store answers, the processor is within --ready-lag of the log end and commits (not after 3 f"
    "ailed commits in a row, nor 30 s without a commit while records wait)\",\"responses\":{\"200\":{"
    "\"description\":\"{checks:{log, store, processor, processor_lag}, ready:true}.\",\"content\":{\""
    "application/json\":{\"schema\":{\"type\":\"object\"}}}},\"503\":{\"description\":\"The same with"
    " ready:false and the failing check's reason.\",\"content\":{\"application/json\":{\"schema\":{\""
    "type\":\"object\"}}}}}}},\"/metrics\":{\"get\":{\"summary\":\"Prometheus text exposition (HTTP, "
    "ingest, log, processor, store, process metrics)\",\"responses\":{\"200\":{\"description\":\"text"
    "/plain; version=0.0.4.\",\"content\":{\"text/plain\":{\"schema\":{\"type\":\"string\"}}}}}}},\"/"
    "\":{\"get\":{\"summary\":\"The dashboard (HTML)\",\"responses\":{\"200\":{\"description\":\"HTML"
    " page.\"}}}},\"/app.js\":{\"get\":{\"summary\":\"A file of the dashboard (embedded in the binary"
    ")\",\"responses\":{\"200\":{\"description\":\"The file.\"}}}},\"/style.css\":{\"get\":{\"summary"
    "\":\"A file of the dashboard (embedded in the binary)\",\"responses\":{\"200\":{\"description\":"
    "\"The file.\"}}}},\"/echarts.min.js\":{\"get\":{\"summary\":\"A file of the dashboard (embedded "
    "in the binary)\",\"responses\":{\"200\":{\"description\":\"The file.\"}}}},"
    "\"/explore\":{\"get\":{\"summary\":\"Explore: build charts of your own from /api/query and add"
    " them to the dashboard (HTML)\",\"responses\":{\"200\":{\"description\":\"HTML page.\"}}}},"
    "\"/explore.js\":{\"get\":{\"summary\":\"A file of the Explore page (embedded in the binary)\""
    ",\"responses\":{\"200\":{\"description\":\"The file.\"}}}},\"/query.js\":{\"get\":{\"summar"
    "y\":\"A file of the dashboard and the Explore page (embedded in the binary)\",\"responses\":{"
    "\"200\":{\"description\":\"The file.\"}}}},\"/openapi.json\":{\""
    "get\":{\"summary\":\"This document\",\"responses\":{\"200\":{\"description\":\"OpenAPI 3.1.\"}}}"
    "},\"/docs\":{\"get\":{\"summary\":\"This document rendered as a page (no network needed)\",\"res"
    "ponses\":{\"200\":{\"description\":\"HTML page.\"}}}},\"/api/query\":{\"get\":{\"summary\":\"Sum"
    "s over the orders: one metric, grouped by up to four dimensions (at most one time bucket), filte"
    "red by time range, source and state; JSON or CSV\",\"parameters\":[{\"name\":\"metric\",\"in\":"
    "\"query\",\"required\":true,\"description\":\"revenue (sum of totals), orders (count), quantity "
    "(sum), avg_order (revenue / orders, rounded half up to the cent; null with no orders).\",\"schem"
    "a\":{\"type\":\"string\",\"enum\":[\"revenue\",\"orders\",\"quantity\",\"avg_order\"]}},{\"name"
    "\":\"by\",\"in\":\"query\",\"required\":false,\"description\":\"Dimensions, comma-separated or r"
    "epeated, in column order: source, state, customer_id, and at most one of minute, hour, day (UTC "
    "buckets; the value is the bucket's start, 2026-12-06T00:00:00Z). None: one row over everything. "
    "At most 10,000 buckets.\",\"schema\":{\"type\":\"string\"}},{\"name\":\"from\",\"in\":\"query\","
    "\"required\":false,\"description\":\"Only orders created at or after this time. RFC 3339 (2026-1"
    "2-06T00:00:00Z; fraction and offset optional, 2026-12-06T00:00:00+02:00), YYYY-MM-DDTHH:MM (UTC)"
    ", now, or a time before now (-90s, -15m, -1h, -1d).\",\"schema\":{\"type\":\"string\"}},{\"name"
    "\":\"to\",\"in\":\"query\",\"required\":false,\"description\":\"Only orders created before this "
    "time (exclusive). RFC 3339 (2026-12-06T00:00:00Z; fraction and offset optional, 2026-12-06T00:00"
    ":00+02:00), YYYY-MM-DDTHH:MM (UTC), now, or a time before now (-90s, -15m, -1h, -1d).\",\"schema"
    "\":{\"type\":\"string\"}},{\"name\":\"source\",\"in\":\"query\",\"required\":false,\"description"
    "\":\"A known source, or several as source=A,B or repeated.\",\"schema\":{\"type\":\"string\"}},{"
    "\"name\":\"state\",\"in\":\"query\",\"required\":false,\"description\":\"A state some stored ord"
    "er has, or several as above.\",\"schema\":{\"type\":\"string\"}},{\"name\":\"format\",\"in\":\"q"
    "uery\",\"required\":false,\"description\":\"json (default) or csv.\",\"schema\":{\"type\":\"stri"
    "ng\",\"enum\":[\"json\",\"csv\"]}}],\"responses\":{\"200\":{\"description\":\"JSON {columns:[dim"
    "ensions…, metric], rows:[[values…], …]}, sorted by the dimensions in order; money as numbe"
    "rs with two decimals. CSV (format=csv): a header line, then one line per row (CRLF), served as a"
    "n attachment (Content-Disposition).\",\"content\":{\"application/json\":{\"schema\":{\"type\":\""
    "object\",\"properties\":{\"columns\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},\"rows"
    "\":{\"type\":\"array\",\"items\":{\"type\":\"array\"}}}}},\"text/csv\":{\"schema\":{\"type\":\"s"
    "tring\"}}}},\"422\":{\"description\":\"A bad parameter, named in loc ([\\\"query\\\", name]): mi"
    "ssing or unknown metric, unknown dimension or parameter, two time buckets, from after to, an unp"
    "arseable time, more than 10,000 buckets (or an answer of more than 100,000 rows), an unknown sou"
    "rce or state, a bad format. A control character anywhere in the query is refused by the HTTP lay"
    "er first (400).\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas"
    "/HTTPValidationError\"}}}},\"503\":{\"description\":\"The store cannot answer: {\\\"detail\\\":"
    "\\\"store unavailable\\\"}; the reason is in the server's log.\",\"content\":{\"application/json"
    "\":{\"schema\":{\"$ref\":\"#/components/schemas/Message\"}}}}}}},\"/api/charts\":{\"get\":{\"sum"
    "mary\":\"The saved charts, oldest first (at most 100)\",\"responses\":{\"200\":{\"description\":"
    "\"{charts:[{id, name, created, definition, error?}]}\",\"content\":{\"application/json\":{\"sche"
    "ma\":{\"type\":\"object\",\"properties\":{\"charts\":{\"type\":\"array\",\"items\":{\"type\":\"o"
    "bject\",\"properties\":{\"id\":{\"type\":\"integer\"},\"name\":{\"type\":\"string\"},\"created\""
    ":{\"type\":\"string\"},\"definition\":{\"type\":[\"object\",\"null\"],\"description\":\"The quer"
    "y's parameters (metric, by, from, to, source, state, format; lists as arrays) plus type: line, b"
    "ar, stacked, pie, table or number.\"},\"error\":{\"type\":\"string\",\"description\":\"Present w"
    "hen the stored definition no longer parses or validates (definition is then null); the chart can"
    " still be removed.\"}}}}}}}}},\"503\":{\"description\":\"The store cannot answer: {\\\"detail\\"
    "\":\\\"store unavailable\\\"}; the reason is in the server's log.\",\"content\":{\"application/j"
    "son\":{\"schema\":{\"$ref\":\"#/components/schemas/Message\"}}}}}},\"post\":{\"summary\":\"Save "
    "a chart (marked for the admin key of scoped keys; no key is asked yet)\",\"requestBody\":{\"requ"
    "ired\":true,\"content\":{\"application/json\":{\"schema\":{\"type\":\"object\",\"additionalPrope"
    "rties\":false,\"required\":[\"name\",\"definition\"],\"properties\":{\"name\":{\"type\":\"string"
    "\",\"minLength\":1,\"maxLength\":200},\"definition\":{\"type\":\"object\",\"description\":\"As G"
    "ET /api/query's parameters (validated the same way) plus a required type: line, bar, stacked, pi"
    "e, table or number. At most 4096 bytes as compact JSON.\"}}},\"example\":{\"name\":\"Revenue by "
    "day\",\"definition\":{\"metric\":\"revenue\",\"by\":[\"day\",\"source\"],\"from\":\"-7d\",\"type"
    "\":\"stacked\"}}}}},\"responses\":{\"201\":{\"description\":\"{id, name, definition}\",\"content"
    "\":{\"application/json\":{\"schema\":{\"type\":\"object\"}}}},\"422\":{\"description\":\"A bad n"
    "ame (not 1-200 characters, control characters), a definition that does not validate (loc [\\\"bo"
    "dy\\\", \\\"definition\\\", name]), an unknown field, or 100 charts saved already.\",\"content\""
    ":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/HTTPValidationError\"}}}},\""
    "503\":{\"description\":\"The store cannot answer: {\\\"detail\\\":\\\"store unavailable\\\"}; th"
    "e reason is in the server's log.\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/c"
    "omponents/schemas/Message\"}}}}}}},\"/api/charts/{id}\":{\"delete\":{\"summary\":\"Remove a save"
    "d chart (marked for the admin key of scoped keys; no key is asked yet)\",\"parameters\":[{\"name"
    "\":\"id\",\"in\":\"path\",\"required\":true,\"schema\":{\"type\":\"integer\",\"minimum\":1}}],\""
    "responses\":{\"200\":{\"description\":\"{status: deleted, id}\",\"content\":{\"application/json"
    "\":{\"schema\":{\"type\":\"object\"}}}},\"404\":{\"description\":\"No saved chart has this id.\""
    ",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Message\"}}}},\""
    "422\":{\"description\":\"The id is not a positive whole number.\",\"content\":{\"application/jso"
    "n\":{\"schema\":{\"$ref\":\"#/components/schemas/HTTPValidationError\"}}}},\"503\":{\"descriptio"
    "n\":\"The store cannot answer: {\\\"detail\\\":\\\"store unavailable\\\"}; the reason is in the "
    "server's log.\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/M"
    "essage\"}}}}}}}}}";

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

/* The spec with the configured sources in place of the defaults; with
 * --strict-orderitem, an OrderItem refuses other fields as an Order does. */
static int build_spec(struct sf_buf *out, const struct catalog *cat, int strict)
{
    static const char dflt[] = "\"enum\":[\"Dine In\",\"Takeaway\",\"Home Delivery\"]";
    static const char lax[] = "\"additionalProperties\":true";  /* OrderItem's alone */
    const char *at = strstr(spec, dflt);
    if (!at)
        return sf_buf_append(out, spec, sizeof(spec) - 1);
    const char *ax = strict ? strstr(at, lax) : NULL;   /* after the sources */
    int rc = sf_buf_append(out, spec, (size_t)(at - spec));
    rc |= SF_BUF_LIT(out, "\"enum\":[");
    for (size_t i = 0, n = catalog_source_count(cat); i < n; i++) {
        if (i)
            rc |= SF_BUF_LIT(out, ",");
        rc |= sf_buf_json_str(out, catalog_source(cat, (int)i));
    }
    rc |= SF_BUF_LIT(out, "]");
    at += sizeof(dflt) - 1;
    if (ax) {
        rc |= sf_buf_append(out, at, (size_t)(ax - at));
        rc |= sf_buf_append(out, "\"additionalProperties\":false", 28);
        at = ax + sizeof(lax) - 1;
    }
    rc |= sf_buf_append(out, at, strlen(at));
    return rc ? -1 : 0;
}

enum http_result ingest_openapi(struct http_req *r)
{
    struct sf_buf b;
    sf_buf_init(&b, sizeof(spec) + 4096);
    if (build_spec(&b, r->ctx->cat, r->ctx->strict_orderitem)) {
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
    int rc = build_spec(&spec_b, r->ctx->cat, r->ctx->strict_orderitem);
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
    int gz = http_gzip_buf(r, &b);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(b.len, b.data, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        sf_buf_free(&b);
        return HTTP_CLOSE;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/html; charset=utf-8");
    http_coding_headers(r, resp, gz);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "Content-Security-Policy", csp);
    MHD_add_response_header(resp, "X-Frame-Options", "DENY");
    enum http_result res = http_mhd_queue(r, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    return res;
}
