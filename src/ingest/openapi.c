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
    "nd leaves no trace in the log. Keys come in three scopes; each operation's x-salesflow-scope nam"
    "es the one it needs. ingest: when the server has API keys (--api-key, SALESFLOW_API_KEYS, --api-"
    "key-file), the ingestion endpoints need Authorization: Bearer KEY. read: when it has read keys ("
    "--read-key, SALESFLOW_READ_KEYS, --read-key-file), the dashboard, its files, /api/* and the stre"
    "am need a read or admin key, as Authorization: Bearer KEY or the session cookie salesflow_sessio"
    "n that POST /signin sets. admin: saving and removing charts need an admin key (--admin-key, SALE"
    "SFLOW_ADMIN_KEYS, --admin-key-file) once read or admin keys are set. open: /healthz, /readyz, /m"
    "etrics, this document, /docs and the sign-in pages never need a key. "
    "After --auth-fail-limit failed keys from one client address (default 10 within a minute: wrong "
    "sign-ins, wrong or malformed bearer keys), every request from it that carries a key gets 429 "
    "with Retry-After and {\\\"detail\\\": \\\"...\\\"} for as long, the right key too.\"},\"components\":{\"securi"
    "tySchemes\":{\"bearer\":{\"type\":\"http\",\"scheme\":\"bearer\"},\"session\":{\"type\":\"apiKey"
    "\",\"in\":\"cookie\",\"name\":\"salesflow_session\"}},\"schemas\":{\"Order\":{\"type\":\"object"
    "\",\"additionalProperties\":false,\"required\":[\"customer_id\",\"source\",\"quantity\"],\"descr"
    "iption\":\"One order. Any other field is rejected with type extra_forbidden.\",\"properties\":{"
    "\"customer_id\":{\"type\":\"integer\",\"minimum\":1,\"description\":\"A customer of the catalog "
    "(--customers, reloaded on SIGHUP). Also accepted: a whole float (3.0) or a string of digits (\\"
    "\"3\\\").\"},\"source\":{\"type\":\"string\",\"enum\":[\"Dine In\",\"Takeaway\",\"Home Delivery"
    "\"],\"description\":\"One of the configured sources (--sources; these are the defaults).\"},\"qu"
    "antity\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":1000000,\"description\":\"Units; lax in"
    "tegers as for customer_id.\"},\"order_id\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":64"
    ",\"pattern\":\"^[\\\\x20-\\\\x7e]+$\",\"description\":\"Idempotency key. An order_id seen within"
    " --dedupe-window (default 24 h, survives restarts) is answered with the first result and not sto"
    "red again. Default: a server UUIDv7.\"},\"created_at\":{\"type\":\"string\",\"description\":\"Ev"
    "ent time: RFC 3339 (2026-11-29T03:40:00Z, offset and fraction optional) or the original \\\"%m/%"
    "d/%Y, %H:%M:%S\\\" (UTC). Default: server UTC now.\"},\"unit_price\":{\"oneOf\":[{\"type\":\"num"
    "ber\",\"minimum\":0},{\"type\":\"string\"}],\"description\":\"Decimal >= 0 with at most 2 decima"
    "ls, as a number or a string (\\\"12.50\\\"); at most 1000000000000.00. Default: --unit-price (30"
    "0.00). total = quantity x unit_price.\"}},\"example\":{\"customer_id\":3,\"source\":\"Dine In\","
    "\"quantity\":7}},\"ValidationError\":{\"type\":\"object\",\"required\":[\"loc\",\"msg\",\"type\""
    "],\"properties\":{\"loc\":{\"type\":\"array\",\"items\":{\"oneOf\":[{\"type\":\"string\"},{\"typ"
    "e\":\"integer\"}]},\"description\":\"[\\\"body\\\", field], [\\\"body\\\", row, field] in a batc"
    "h, [\\\"body\\\"] for the whole body, [\\\"query\\\", name].\"},\"msg\":{\"type\":\"string\",\"d"
    "escription\":\"What is wrong, for a person.\"},\"type\":{\"type\":\"string\",\"description\":\"p"
    "ydantic's error type: missing, int_type, int_parsing, int_from_float, int_parsing_size, string_t"
    "ype, literal_error, greater_than_equal, less_than_equal, value_error, json_invalid, model_attrib"
    "utes_type, extra_forbidden, string_too_short, string_too_long, string_pattern_mismatch, datetime"
    "_type, datetime_parsing, decimal_type, decimal_parsing, decimal_max_places, too_short, too_long;"
    " and for rows the log refused: unavailable, storage_error.\"}}},\"HTTPValidationError\":{\"type"
    "\":\"object\",\"properties\":{\"detail\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/components/"
    "schemas/ValidationError\"}}}},\"Message\":{\"type\":\"object\",\"properties\":{\"detail\":{\"typ"
    "e\":\"string\"}}},\"OrderItemCreated\":{\"type\":\"object\",\"properties\":{\"status\":{\"const"
    "\":\"success\"},\"message\":{\"const\":\"Stock entry created\"},\"order_id\":{\"type\":\"string"
    "\"}}},\"RowResult\":{\"oneOf\":[{\"type\":\"object\",\"required\":[\"index\",\"order_id\"],\"pro"
    "perties\":{\"index\":{\"type\":\"integer\"},\"order_id\":{\"type\":\"string\"},\"duplicate\":{\""
    "type\":\"boolean\",\"description\":\"true: the order_id was stored before (or earlier in this re"
    "quest); it was not stored again\"}}},{\"type\":\"object\",\"required\":[\"index\",\"detail\"],\""
    "properties\":{\"index\":{\"type\":\"integer\"},\"detail\":{\"type\":\"array\",\"items\":{\"$ref"
    "\":\"#/components/schemas/ValidationError\"}}}}]},\"BatchResult\":{\"type\":\"object\",\"require"
    "d\":[\"accepted\",\"rejected\",\"results\"],\"properties\":{\"accepted\":{\"type\":\"integer\"},"
    "\"rejected\":{\"type\":\"integer\"},\"results\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/comp"
    "onents/schemas/RowResult\"},\"description\":\"One per row, in request order.\"}}},\"QuarantineIt"
    "em\":{\"type\":\"object\",\"properties\":{\"time\":{\"type\":\"string\"},\"endpoint\":{\"type\":"
    "\"string\"},\"index\":{\"type\":\"integer\"},\"detail\":{\"type\":\"array\",\"items\":{\"$ref\":"
    "\"#/components/schemas/ValidationError\"}},\"detail_truncated\":{\"type\":\"boolean\",\"descript"
    "ion\":\"Present (true) when only the first entries of a detail over 4 KiB are kept\"},\"raw\":{"
    "\"type\":\"string\",\"description\":\"The start of the row as sent: at most 4 KiB once escaped f"
    "or JSON (invalid UTF-8 replaced by U+FFFD)\"},\"raw_length\":{\"type\":\"integer\",\"description"
    "\":\"The row's full length in bytes\"},\"raw_truncated\":{\"type\":\"boolean\",\"description\":"
    "\"raw is only the start of the row\"},\"raw_lossy\":{\"type\":\"boolean\"}}},\"OrderItem\":{\"ty"
    "pe\":\"object\",\"additionalProperties\":true,\"required\":[\"customer_id\",\"source\",\"quantit"
    "y\"],\"description\":\"An order as POST /orderitem takes it: as Order, but fields an order does "
    "not have are ignored (refused with --strict-orderitem).\",\"properties\":{\"customer_id\":{\"typ"
    "e\":\"integer\",\"minimum\":1,\"description\":\"A customer of the catalog (--customers, reloaded"
    " on SIGHUP). Also accepted: a whole float (3.0) or a string of digits (\\\"3\\\").\"},\"source\""
    ":{\"type\":\"string\",\"enum\":[\"Dine In\",\"Takeaway\",\"Home Delivery\"],\"description\":\"On"
    "e of the configured sources (--sources; these are the defaults).\"},\"quantity\":{\"type\":\"int"
    "eger\",\"minimum\":1,\"maximum\":1000000,\"description\":\"Units; lax integers as for customer_i"
    "d.\"},\"order_id\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":64,\"pattern\":\"^[\\\\x20"
    "-\\\\x7e]+$\",\"description\":\"Idempotency key. An order_id seen within --dedupe-window (defaul"
    "t 24 h, survives restarts) is answered with the first result and not stored again. Default: a se"
    "rver UUIDv7.\"},\"created_at\":{\"type\":\"string\",\"description\":\"Event time: RFC 3339 (2026"
    "-11-29T03:40:00Z, offset and fraction optional) or the original \\\"%m/%d/%Y, %H:%M:%S\\\" (UTC)"
    ". Default: server UTC now.\"},\"unit_price\":{\"oneOf\":[{\"type\":\"number\",\"minimum\":0},{\""
    "type\":\"string\"}],\"description\":\"Decimal >= 0 with at most 2 decimals, as a number or a str"
    "ing (\\\"12.50\\\"); at most 1000000000000.00. Default: --unit-price (300.00). total = quantity "
    "x unit_price.\"}},\"example\":{\"customer_id\":3,\"source\":\"Dine In\",\"quantity\":7}}}},\"pat"
    "hs\":{\"/orderitem\":{\"post\":{\"summary\":\"Create one order (the original FastAPI endpoint)\""
    ",\"security\":[{\"bearer\":[]},{}],\"requestBody\":{\"required\":true,\"content\":{\"application"
    "/json\":{\"schema\":{\"$ref\":\"#/components/schemas/OrderItem\"}}}},\"responses\":{\"201\":{\"d"
    "escription\":\"Stored durably (or an order_id stored before).\",\"content\":{\"application/json"
    "\":{\"schema\":{\"$ref\":\"#/components/schemas/OrderItemCreated\"}}}},\"422\":{\"description\":"
    "\"Invalid order or malformed JSON: one entry per problem.\",\"content\":{\"application/json\":{"
    "\"schema\":{\"$ref\":\"#/components/schemas/HTTPValidationError\"}}}},\"401\":{\"description\":"
    "\"No or wrong API key (only when the server has API keys): {\\\"detail\\\":\\\"Not authenticated"
    ": …\\\"} or {\\\"detail\\\":\\\"Invalid API key\\\"}. Header WWW-Authenticate: Bearer.\",\"conte"
    "nt\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Message\"}}}},"
    "\"429\":{\"description\":\"Too many failed keys from this client address (--auth-fail-"
    "limit): every key from it, the right one too, is refused for a while. Header Retry-After: "
    "seconds.\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/sc"
    "hemas/Message\"}}}},"
    "\"404\":{"
    "\"description\":\"This server does not ingest orders (salesflow serve has no log): {\\\"detail\\"
    "\":\\\"this server does not ingest orders\\\"}; retrying never helps.\",\"content\":{\"applicati"
    "on/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Message\"}}}},\"408\":{\"description\":\""
    "The headers or the body did not arrive within the read timeouts (--header-timeout, --body-timeou"
    "t); the connection is closed.\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/comp"
    "onents/schemas/Message\"}}}},\"413\":{\"description\":\"Body larger than the limit (1 MiB for /o"
    "rderitem, --max-body for /v1/orders), or more rows than --max-batch (as sent or once decoded)\","
    "\"content\":{\"application/json\":{\"schema\":{\"oneOf\":[{\"$ref\":\"#/components/schemas/Messa"
    "ge\"},{\"$ref\":\"#/components/schemas/HTTPValidationError\"}]}}}},\"415\":{\"description\":\"Co"
    "ntent-Type missing or not JSON (or NDJSON for /v1/orders); or a Content-Encoding other than gzip"
    ", x-gzip, zstd or identity, or several stacked (answered with Accept-Encoding: gzip, zstd)\",\"c"
    "ontent\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Message\"}}}},\"431"
    "\":{\"description\":\"Request headers too large (about 32 KiB in all).\"},\"503\":{\"description"
    "\":\"The log's append queue is full, too many request bodies are in memory, or the server is shu"
    "tting down: retry after Retry-After seconds.\",\"content\":{\"application/json\":{\"schema\":{\""
    "oneOf\":[{\"$ref\":\"#/components/schemas/Message\"},{\"$ref\":\"#/components/schemas/BatchResul"
    "t\"}]}}},\"headers\":{\"Retry-After\":{\"description\":\"seconds to wait before retrying\",\"sch"
    "ema\":{\"type\":\"integer\"}}}},\"507\":{\"description\":\"The log could not be written (disk fu"
    "ll or I/O error); nothing was stored.\",\"content\":{\"application/json\":{\"schema\":{\"oneOf\""
    ":[{\"$ref\":\"#/components/schemas/Message\"},{\"$ref\":\"#/components/schemas/BatchResult\"}]}}"
    "}},\"400\":{\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Messa"
    "ge\"}}},\"description\":\"The body is not what its Content-Encoding says (not gzip/zstd, cut sho"
    "rt, corrupt), or the request head breaks the framing rules\"}},\"parameters\":[{\"name\":\"Conte"
    "nt-Encoding\",\"in\":\"header\",\"required\":false,\"description\":\"gzip (or x-gzip) or zstd: t"
    "he body is compressed; the size limit applies to the decoded body too. Absent or identity: plain"
    ".\",\"schema\":{\"type\":\"string\",\"enum\":[\"gzip\",\"x-gzip\",\"zstd\",\"identity\"]}}],\"de"
    "scription\":\"Fields an order does not have are ignored, as the original service did (422 with -"
    "-strict-orderitem).\",\"x-salesflow-scope\":\"ingest\"}},\"/v1/orders\":{\"post\":{\"summary\":"
    "\"Create orders: one object, an array, or NDJSON; per-row results\",\"description\":\"Rows are v"
    "alidated one by one. Good rows are stored; bad rows are reported and kept in the quarantine (GET"
    " /v1/quarantine). The reply is sent once every accepted row is durable. A body that is not JSON,"
    " not an object or array, or has no rows gets a 422 {\\\"detail\\\":[…]} and nothing is stored.\""
    ",\"security\":[{\"bearer\":[]},{}],\"requestBody\":{\"required\":true,\"content\":{\"application"
    "/json\":{\"schema\":{\"oneOf\":[{\"$ref\":\"#/components/schemas/Order\"},{\"type\":\"array\",\""
    "items\":{\"$ref\":\"#/components/schemas/Order\"}}]}},\"application/x-ndjson\":{\"schema\":{\"ty"
    "pe\":\"string\",\"description\":\"One Order per line; blank lines are skipped. Also accepted: ap"
    "plication/ndjson, application/jsonl.\"}}}},\"responses\":{\"201\":{\"description\":\"Every row a"
    "ccepted.\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/BatchR"
    "esult\"}}}},\"207\":{\"description\":\"Some rows accepted, some rejected.\",\"content\":{\"appli"
    "cation/json\":{\"schema\":{\"$ref\":\"#/components/schemas/BatchResult\"}}}},\"422\":{\"descript"
    "ion\":\"No row accepted (BatchResult), or the body is unusable (HTTPValidationError).\",\"conten"
    "t\":{\"application/json\":{\"schema\":{\"oneOf\":[{\"$ref\":\"#/components/schemas/BatchResult\""
    "},{\"$ref\":\"#/components/schemas/HTTPValidationError\"}]}}}},\"401\":{\"description\":\"No or "
    "wrong API key (only when the server has API keys): {\\\"detail\\\":\\\"Not authenticated: …\\\"}"
    " or {\\\"detail\\\":\\\"Invalid API key\\\"}. Header WWW-Authenticate: Bearer.\",\"content\":{\""
    "application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Message\"}}}},"
    "\"429\":{\"description\":\"Too many failed keys from this client address (--auth-fail-"
    "limit): every key from it, the right one too, is refused for a while. Header Retry-After: "
    "seconds.\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/sc"
    "hemas/Message\"}}}},"
    "\"404\":{\"descrip"
    "tion\":\"This server does not ingest orders (salesflow serve has no log): {\\\"detail\\\":\\\"th"
    "is server does not ingest orders\\\"}; retrying never helps.\",\"content\":{\"application/json\""
    ":{\"schema\":{\"$ref\":\"#/components/schemas/Message\"}}}},\"408\":{\"description\":\"The heade"
    "rs or the body did not arrive within the read timeouts (--header-timeout, --body-timeout); the c"
    "onnection is closed.\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/sc"
    "hemas/Message\"}}}},\"413\":{\"description\":\"Body larger than the limit (1 MiB for /orderitem,"
    " --max-body for /v1/orders), or more rows than --max-batch (as sent or once decoded)\",\"content"
    "\":{\"application/json\":{\"schema\":{\"oneOf\":[{\"$ref\":\"#/components/schemas/Message\"},{\""
    "$ref\":\"#/components/schemas/HTTPValidationError\"}]}}}},\"415\":{\"description\":\"Content-Typ"
    "e missing or not JSON (or NDJSON for /v1/orders); or a Content-Encoding other than gzip, x-gzip,"
    " zstd or identity, or several stacked (answered with Accept-Encoding: gzip, zstd)\",\"content\":"
    "{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Message\"}}}},\"431\":{\"desc"
    "ription\":\"Request headers too large (about 32 KiB in all).\"},\"503\":{\"description\":\"The l"
    "og's append queue is full, too many request bodies are in memory, or the server is shutting down"
    ": retry after Retry-After seconds.\",\"content\":{\"application/json\":{\"schema\":{\"oneOf\":[{"
    "\"$ref\":\"#/components/schemas/Message\"},{\"$ref\":\"#/components/schemas/BatchResult\"}]}}},"
    "\"headers\":{\"Retry-After\":{\"description\":\"seconds to wait before retrying\",\"schema\":{\""
    "type\":\"integer\"}}}},\"507\":{\"description\":\"The log could not be written (disk full or I/O"
    " error); nothing was stored.\",\"content\":{\"application/json\":{\"schema\":{\"oneOf\":[{\"$ref"
    "\":\"#/components/schemas/Message\"},{\"$ref\":\"#/components/schemas/BatchResult\"}]}}}},\"400"
    "\":{\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Message\"}}},"
    "\"description\":\"The body is not what its Content-Encoding says (not gzip/zstd, cut short, corr"
    "upt), or the request head breaks the framing rules\"}},\"parameters\":[{\"name\":\"Content-Encod"
    "ing\",\"in\":\"header\",\"required\":false,\"description\":\"gzip (or x-gzip) or zstd: the body "
    "is compressed; the size limit applies to the decoded body too. Absent or identity: plain.\",\"sc"
    "hema\":{\"type\":\"string\",\"enum\":[\"gzip\",\"x-gzip\",\"zstd\",\"identity\"]}}],\"x-salesflo"
    "w-scope\":\"ingest\"}},\"/v1/quarantine\":{\"get\":{\"summary\":\"The most recent rejected rows,"
    " newest first\",\"security\":[{\"bearer\":[]},{}],\"parameters\":[{\"name\":\"limit\",\"in\":\"q"
    "uery\",\"schema\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":1000,\"default\":100}},{\"name"
    "\":\"before\",\"in\":\"query\",\"description\":\"Cursor: the before= value of an earlier answer'"
    "s next link\",\"schema\":{\"type\":\"integer\",\"minimum\":0}}],\"responses\":{\"200\":{\"descri"
    "ption\":\"Rejected rows. An answer is at most 1 MiB: when that cuts the list short, truncated is"
    " true and next is the path of the rest.\",\"content\":{\"application/json\":{\"schema\":{\"type"
    "\":\"object\",\"properties\":{\"count\":{\"type\":\"integer\"},\"items\":{\"type\":\"array\",\"i"
    "tems\":{\"$ref\":\"#/components/schemas/QuarantineItem\"}},\"truncated\":{\"type\":\"boolean\"},"
    "\"next\":{\"type\":\"string\"}}}}}},\"422\":{\"description\":\"Bad limit or before.\",\"content"
    "\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/HTTPValidationError\"}}}},"
    "\"401\":{\"description\":\"No or wrong API key (only when the server has API keys): {\\\"detail"
    "\\\":\\\"Not authenticated: …\\\"} or {\\\"detail\\\":\\\"Invalid API key\\\"}. Header WWW-Authe"
    "nticate: Bearer.\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schema"
    "s/Message\"}}}}},\"x-salesflow-scope\":\"ingest\"}},\"/api/sales\":{\"get\":{\"summary\":\"The s"
    "ales aggregate per (source, state), largest amount first, with totals and the lists of sources a"
    "nd states\",\"parameters\":[{\"name\":\"source\",\"in\":\"query\",\"required\":false,\"descripti"
    "on\":\"A source, or several as source=A,B or repeated.\",\"schema\":{\"type\":\"string\"}},{\"na"
    "me\":\"state\",\"in\":\"query\",\"required\":false,\"description\":\"A state, or several as abov"
    "e.\",\"schema\":{\"type\":\"string\"}},{\"name\":\"from\",\"in\":\"query\",\"required\":false,\""
    "description\":\"Only orders created at or after this time. RFC 3339 (2026-12-06T00:00:00Z; fract"
    "ion and offset optional, 2026-12-06T00:00:00+02:00), YYYY-MM-DDTHH:MM (UTC), now, or a time befo"
    "re now (-90s, -15m, -1h, -1d). With from or to, the rows, counts and totals sum the orders creat"
    "ed in [from, to) (pairs with none are left out; updated_at stays that of the pair's sales row); "
    "sources and states still list every pair stored. Without both, the sales table as it is.\",\"sch"
    "ema\":{\"type\":\"string\"}},{\"name\":\"to\",\"in\":\"query\",\"required\":false,\"description"
    "\":\"Only orders created before this time (exclusive). RFC 3339 (2026-12-06T00:00:00Z; fraction "
    "and offset optional, 2026-12-06T00:00:00+02:00), YYYY-MM-DDTHH:MM (UTC), now, or a time before n"
    "ow (-90s, -15m, -1h, -1d).\",\"schema\":{\"type\":\"string\"}}],\"responses\":{\"200\":{\"descri"
    "ption\":\"{rows:[{source,state,total_sum_amount,order_count,quantity,updated_at}], total_sum_amo"
    "unt, order_count, quantity, updated_at, sources, states, filters}.\",\"content\":{\"application/"
    "json\":{\"schema\":{\"type\":\"object\"}}}},\"400\":{\"description\":\"Unknown or bad query para"
    "meter (also: from after to, an unparseable time): {\\\"detail\\\":\\\"...\\\"}.\",\"content\":{"
    "\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Message\"}}}},\"401\":{\"descr"
    "iption\":\"With read or admin keys set: no key, an unknown key or an ended session: {\\\"detail"
    "\\\":\\\"Not authenticated: …\\\"} or {\\\"detail\\\":\\\"Invalid key\\\"}, header WWW-Authentic"
    "ate: Bearer realm=\\\"salesflow\\\" (a browser asking for a page gets the sign-in form instead)."
    " An Authorization header, when sent, decides alone.\",\"content\":{\"application/json\":{\"schem"
    "a\":{\"$ref\":\"#/components/schemas/Message\"}}}},\"403\":{\"description\":\"An ingest key: the"
    " scopes are disjoint.\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/s"
    "chemas/Message\"}}}},\"503\":{\"description\":\"The store cannot answer: {\\\"detail\\\":\\\"sto"
    "re unavailable\\\"}; the reason is in the server's log.\",\"content\":{\"application/json\":{\"s"
    "chema\":{\"$ref\":\"#/components/schemas/Message\"}}}}},\"x-salesflow-scope\":\"read\",\"securit"
    "y\":[{\"bearer\":[]},{\"session\":[]},{}]}},\"/api/sales/minute\":{\"get\":{\"summary\":\"sales_"
    "minute summed per (minute, source) over a time range\",\"parameters\":[{\"name\":\"source\",\"in"
    "\":\"query\",\"required\":false,\"description\":\"A source, or several as source=A,B or repeated"
    ".\",\"schema\":{\"type\":\"string\"}},{\"name\":\"state\",\"in\":\"query\",\"required\":false,\""
    "description\":\"A state, or several as above.\",\"schema\":{\"type\":\"string\"}},{\"name\":\"fr"
    "om\",\"in\":\"query\",\"required\":false,\"description\":\"RFC 3339 (offset allowed), YYYY-MM-DD"
    "THH:MM (UTC), now, or a time before now (-90s, -15m, -1h, -1d); rounded down to a minute. Defaul"
    "t: one hour before to.\",\"schema\":{\"type\":\"string\"}},{\"name\":\"to\",\"in\":\"query\",\"r"
    "equired\":false,\"description\":\"As from; exclusive, rounded up. Default: the end of the curren"
    "t minute. At most 7 days after from.\",\"schema\":{\"type\":\"string\"}}],\"responses\":{\"200\""
    ":{\"description\":\"{from, to, step_s, rows:[{minute, source, total, order_count, quantity}], to"
    "tal, order_count, quantity, sources, filters}; only minutes with sales, by created_at.\",\"conte"
    "nt\":{\"application/json\":{\"schema\":{\"type\":\"object\"}}}},\"400\":{\"description\":\"Unkno"
    "wn or bad query parameter: {\\\"detail\\\":\\\"...\\\"}.\",\"content\":{\"application/json\":{\""
    "schema\":{\"$ref\":\"#/components/schemas/Message\"}}}},\"401\":{\"description\":\"With read or "
    "admin keys set: no key, an unknown key or an ended session: {\\\"detail\\\":\\\"Not authenticate"
    "d: …\\\"} or {\\\"detail\\\":\\\"Invalid key\\\"}, header WWW-Authenticate: Bearer realm=\\\"sal"
    "esflow\\\" (a browser asking for a page gets the sign-in form instead). An Authorization header,"
    " when sent, decides alone.\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/compone"
    "nts/schemas/Message\"}}}},\"403\":{\"description\":\"An ingest key: the scopes are disjoint.\","
    "\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Message\"}}}},\"5"
    "03\":{\"description\":\"The store cannot answer: {\\\"detail\\\":\\\"store unavailable\\\"}; the"
    " reason is in the server's log.\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/co"
    "mponents/schemas/Message\"}}}}},\"x-salesflow-scope\":\"read\",\"security\":[{\"bearer\":[]},{\""
    "session\":[]},{}]}},\"/api/sales/second\":{\"get\":{\"summary\":\"Orders and revenue per second "
    "that reached the store\",\"parameters\":[{\"name\":\"source\",\"in\":\"query\",\"required\":fals"
    "e,\"description\":\"A source, or several as source=A,B or repeated.\",\"schema\":{\"type\":\"str"
    "ing\"}},{\"name\":\"state\",\"in\":\"query\",\"required\":false,\"description\":\"A state, or se"
    "veral as above.\",\"schema\":{\"type\":\"string\"}},{\"name\":\"window\",\"in\":\"query\",\"requ"
    "ired\":false,\"description\":\"Seconds, 10-300 (default 300).\",\"schema\":{\"type\":\"integer\""
    ",\"minimum\":10,\"maximum\":300}}],\"responses\":{\"200\":{\"description\":\"{step_s, window_s, "
    "points:[{t, orders, total}], filters}: what reached the store each second (processing time), kep"
    "t for 5 minutes.\",\"content\":{\"application/json\":{\"schema\":{\"type\":\"object\"}}}},\"400"
    "\":{\"description\":\"Unknown or bad query parameter: {\\\"detail\\\":\\\"...\\\"}.\",\"content"
    "\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Message\"}}}},\"401\":{\"d"
    "escription\":\"With read or admin keys set: no key, an unknown key or an ended session: {\\\"det"
    "ail\\\":\\\"Not authenticated: …\\\"} or {\\\"detail\\\":\\\"Invalid key\\\"}, header WWW-Authen"
    "ticate: Bearer realm=\\\"salesflow\\\" (a browser asking for a page gets the sign-in form instea"
    "d). An Authorization header, when sent, decides alone.\",\"content\":{\"application/json\":{\"sc"
    "hema\":{\"$ref\":\"#/components/schemas/Message\"}}}},\"403\":{\"description\":\"An ingest key: "
    "the scopes are disjoint.\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/component"
    "s/schemas/Message\"}}}},\"503\":{\"description\":\"The store cannot answer: {\\\"detail\\\":\\\""
    "store unavailable\\\"}; the reason is in the server's log.\",\"content\":{\"application/json\":{"
    "\"schema\":{\"$ref\":\"#/components/schemas/Message\"}}}}},\"x-salesflow-scope\":\"read\",\"secu"
    "rity\":[{\"bearer\":[]},{\"session\":[]},{}]}},\"/api/orders\":{\"get\":{\"summary\":\"The lates"
    "t orders, newest created_at first\",\"parameters\":[{\"name\":\"source\",\"in\":\"query\",\"requ"
    "ired\":false,\"description\":\"A source, or several as source=A,B or repeated.\",\"schema\":{\"t"
    "ype\":\"string\"}},{\"name\":\"state\",\"in\":\"query\",\"required\":false,\"description\":\"A s"
    "tate, or several as above.\",\"schema\":{\"type\":\"string\"}},{\"name\":\"limit\",\"in\":\"quer"
    "y\",\"required\":false,\"description\":\"1-500 (default 20).\",\"schema\":{\"type\":\"integer\","
    "\"minimum\":1,\"maximum\":500}},{\"name\":\"from\",\"in\":\"query\",\"required\":false,\"descrip"
    "tion\":\"Only orders created at or after this time. RFC 3339 (2026-12-06T00:00:00Z; fraction and"
    " offset optional, 2026-12-06T00:00:00+02:00), YYYY-MM-DDTHH:MM (UTC), now, or a time before now "
    "(-90s, -15m, -1h, -1d).\",\"schema\":{\"type\":\"string\"}},{\"name\":\"to\",\"in\":\"query\",\""
    "required\":false,\"description\":\"Only orders created before this time (exclusive). RFC 3339 (2"
    "026-12-06T00:00:00Z; fraction and offset optional, 2026-12-06T00:00:00+02:00), YYYY-MM-DDTHH:MM "
    "(UTC), now, or a time before now (-90s, -15m, -1h, -1d).\",\"schema\":{\"type\":\"string\"}}],\""
    "responses\":{\"200\":{\"description\":\"{limit, orders:[{order_id, customer_id, source, state, q"
    "uantity, total, created_at}], filters}.\",\"content\":{\"application/json\":{\"schema\":{\"type"
    "\":\"object\"}}}},\"400\":{\"description\":\"Unknown or bad query parameter (also: from after to"
    ", an unparseable time): {\\\"detail\\\":\\\"...\\\"}.\",\"content\":{\"application/json\":{\"sch"
    "ema\":{\"$ref\":\"#/components/schemas/Message\"}}}},\"401\":{\"description\":\"With read or adm"
    "in keys set: no key, an unknown key or an ended session: {\\\"detail\\\":\\\"Not authenticated: "
    "…\\\"} or {\\\"detail\\\":\\\"Invalid key\\\"}, header WWW-Authenticate: Bearer realm=\\\"salesf"
    "low\\\" (a browser asking for a page gets the sign-in form instead). An Authorization header, wh"
    "en sent, decides alone.\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components"
    "/schemas/Message\"}}}},\"403\":{\"description\":\"An ingest key: the scopes are disjoint.\",\"co"
    "ntent\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Message\"}}}},\"503\""
    ":{\"description\":\"The store cannot answer: {\\\"detail\\\":\\\"store unavailable\\\"}; the rea"
    "son is in the server's log.\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/compon"
    "ents/schemas/Message\"}}}}},\"x-salesflow-scope\":\"read\",\"security\":[{\"bearer\":[]},{\"sess"
    "ion\":[]},{}]}},\"/api/pipeline\":{\"get\":{\"summary\":\"Ingest rate, processor commits and lag"
    " per partition, rejected and quarantined counts, last commit time, live streams\",\"responses\":"
    "{\"200\":{\"description\":\"The pipeline panel's figures.\",\"content\":{\"application/json\":{"
    "\"schema\":{\"type\":\"object\"}}}},\"401\":{\"description\":\"With read or admin keys set: no k"
    "ey, an unknown key or an ended session: {\\\"detail\\\":\\\"Not authenticated: …\\\"} or {\\\"de"
    "tail\\\":\\\"Invalid key\\\"}, header WWW-Authenticate: Bearer realm=\\\"salesflow\\\" (a browse"
    "r asking for a page gets the sign-in form instead). An Authorization header, when sent, decides "
    "alone.\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Message"
    "\"}}}},\"403\":{\"description\":\"An ingest key: the scopes are disjoint.\",\"content\":{\"appli"
    "cation/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Message\"}}}},\"503\":{\"description"
    "\":\"The store cannot answer: {\\\"detail\\\":\\\"store unavailable\\\"}; the reason is in the s"
    "erver's log.\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Me"
    "ssage\"}}}}},\"x-salesflow-scope\":\"read\",\"security\":[{\"bearer\":[]},{\"session\":[]},{}]}}"
    ",\"/api/stream\":{\"get\":{\"summary\":\"Server-Sent Events: a notice after each store commit\","
    "\"responses\":{\"200\":{\"description\":\"text/event-stream; reconnect with Last-Event-ID.\",\"c"
    "ontent\":{\"text/event-stream\":{\"schema\":{\"type\":\"string\"}}}},\"401\":{\"description\":\""
    "With read or admin keys set: no key, an unknown key or an ended session: {\\\"detail\\\":\\\"Not"
    " authenticated: …\\\"} or {\\\"detail\\\":\\\"Invalid key\\\"}, header WWW-Authenticate: Bearer "
    "realm=\\\"salesflow\\\" (a browser asking for a page gets the sign-in form instead). An Authoriz"
    "ation header, when sent, decides alone.\",\"content\":{\"application/json\":{\"schema\":{\"$ref"
    "\":\"#/components/schemas/Message\"}}}},\"403\":{\"description\":\"An ingest key: the scopes are"
    " disjoint.\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Mess"
    "age\"}}}},\"429\":{\"description\":\"8 streams from this client address are open already (Retry-"
    "After).\"},\"503\":{\"description\":\"256 streams are open already (Retry-After), or no store he"
    "re.\"}},\"x-salesflow-scope\":\"read\",\"security\":[{\"bearer\":[]},{\"session\":[]},{}]}},\"/h"
    "ealthz\":{\"get\":{\"summary\":\"Liveness\",\"responses\":{\"200\":{\"description\":\"Alive.\"}}"
    ",\"x-salesflow-scope\":\"open\"}},\"/readyz\":{\"get\":{\"summary\":\"Readiness: the log is open"
    ", the store answers, the processor is within --ready-lag of the log end and commits (not after 3"
    " failed commits in a row, nor 30 s without a commit while records wait)\",\"responses\":{\"200\""
    ":{\"description\":\"{checks:{log, store, processor, processor_lag}, ready:true}.\",\"content\":{"
    "\"application/json\":{\"schema\":{\"type\":\"object\"}}}},\"503\":{\"description\":\"The same wi"
    "th ready:false and the failing check's reason.\",\"content\":{\"application/json\":{\"schema\":{"
    "\"type\":\"object\"}}}}},\"x-salesflow-scope\":\"open\"}},\"/metrics\":{\"get\":{\"summary\":\"P"
    "rometheus text exposition (HTTP, ingest, log, processor, store, process metrics)\",\"responses\""
    ":{\"200\":{\"description\":\"text/plain; version=0.0.4.\",\"content\":{\"text/plain\":{\"schema"
    "\":{\"type\":\"string\"}}}}},\"x-salesflow-scope\":\"open\"}},\"/\":{\"get\":{\"summary\":\"The "
    "dashboard (HTML)\",\"responses\":{\"200\":{\"description\":\"HTML page.\"},\"401\":{\"descriptio"
    "n\":\"With read or admin keys set: no key, an unknown key or an ended session: {\\\"detail\\\":"
    "\\\"Not authenticated: …\\\"} or {\\\"detail\\\":\\\"Invalid key\\\"}, header WWW-Authenticate: "
    "Bearer realm=\\\"salesflow\\\" (a browser asking for a page gets the sign-in form instead). An A"
    "uthorization header, when sent, decides alone.\",\"content\":{\"application/json\":{\"schema\":{"
    "\"$ref\":\"#/components/schemas/Message\"}}}},\"403\":{\"description\":\"An ingest key: the scop"
    "es are disjoint.\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schema"
    "s/Message\"}}}}},\"x-salesflow-scope\":\"read\",\"security\":[{\"bearer\":[]},{\"session\":[]},{"
    "}]}},\"/app.js\":{\"get\":{\"summary\":\"A file of the dashboard (embedded in the binary)\",\"re"
    "sponses\":{\"200\":{\"description\":\"The file.\"},\"401\":{\"description\":\"With read or admin"
    " keys set: no key, an unknown key or an ended session: {\\\"detail\\\":\\\"Not authenticated: …"
    "\\\"} or {\\\"detail\\\":\\\"Invalid key\\\"}, header WWW-Authenticate: Bearer realm=\\\"salesfl"
    "ow\\\" (a browser asking for a page gets the sign-in form instead). An Authorization header, whe"
    "n sent, decides alone.\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/"
    "schemas/Message\"}}}},\"403\":{\"description\":\"An ingest key: the scopes are disjoint.\",\"con"
    "tent\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Message\"}}}}},\"x-sal"
    "esflow-scope\":\"read\",\"security\":[{\"bearer\":[]},{\"session\":[]},{}]}},\"/style.css\":{\"g"
    "et\":{\"summary\":\"A file of the dashboard (embedded in the binary)\",\"responses\":{\"200\":{"
    "\"description\":\"The file.\"},\"401\":{\"description\":\"With read or admin keys set: no key, a"
    "n unknown key or an ended session: {\\\"detail\\\":\\\"Not authenticated: …\\\"} or {\\\"detail"
    "\\\":\\\"Invalid key\\\"}, header WWW-Authenticate: Bearer realm=\\\"salesflow\\\" (a browser as"
    "king for a page gets the sign-in form instead). An Authorization header, when sent, decides alon"
    "e.\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Message\"}}}"
    "},\"403\":{\"description\":\"An ingest key: the scopes are disjoint.\",\"content\":{\"applicatio"
    "n/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Message\"}}}}},\"x-salesflow-scope\":\"rea"
    "d\",\"security\":[{\"bearer\":[]},{\"session\":[]},{}]}},\"/echarts.min.js\":{\"get\":{\"summary"
    "\":\"A file of the dashboard (embedded in the binary)\",\"responses\":{\"200\":{\"description\":"
    "\"The file.\"},\"401\":{\"description\":\"With read or admin keys set: no key, an unknown key or"
    " an ended session: {\\\"detail\\\":\\\"Not authenticated: …\\\"} or {\\\"detail\\\":\\\"Invalid "
    "key\\\"}, header WWW-Authenticate: Bearer realm=\\\"salesflow\\\" (a browser asking for a page g"
    "ets the sign-in form instead). An Authorization header, when sent, decides alone.\",\"content\":"
    "{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Message\"}}}},\"403\":{\"desc"
    "ription\":\"An ingest key: the scopes are disjoint.\",\"content\":{\"application/json\":{\"schem"
    "a\":{\"$ref\":\"#/components/schemas/Message\"}}}}},\"x-salesflow-scope\":\"read\",\"security\":"
    "[{\"bearer\":[]},{\"session\":[]},{}]}},\"/explore\":{\"get\":{\"summary\":\"Explore: build char"
    "ts of your own from /api/query and add them to the dashboard (HTML)\",\"responses\":{\"200\":{\""
    "description\":\"HTML page.\"},\"401\":{\"description\":\"With read or admin keys set: no key, an"
    " unknown key or an ended session: {\\\"detail\\\":\\\"Not authenticated: …\\\"} or {\\\"detail\\"
    "\":\\\"Invalid key\\\"}, header WWW-Authenticate: Bearer realm=\\\"salesflow\\\" (a browser aski"
    "ng for a page gets the sign-in form instead). An Authorization header, when sent, decides alone."
    "\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Message\"}}}},"
    "\"403\":{\"description\":\"An ingest key: the scopes are disjoint.\",\"content\":{\"application/"
    "json\":{\"schema\":{\"$ref\":\"#/components/schemas/Message\"}}}}},\"x-salesflow-scope\":\"read"
    "\",\"security\":[{\"bearer\":[]},{\"session\":[]},{}]}},\"/explore.js\":{\"get\":{\"summary\":\""
    "A file of the Explore page (embedded in the binary)\",\"responses\":{\"200\":{\"description\":\""
    "The file.\"},\"401\":{\"description\":\"With read or admin keys set: no key, an unknown key or a"
    "n ended session: {\\\"detail\\\":\\\"Not authenticated: …\\\"} or {\\\"detail\\\":\\\"Invalid ke"
    "y\\\"}, header WWW-Authenticate: Bearer realm=\\\"salesflow\\\" (a browser asking for a page get"
    "s the sign-in form instead). An Authorization header, when sent, decides alone.\",\"content\":{"
    "\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Message\"}}}},\"403\":{\"descr"
    "iption\":\"An ingest key: the scopes are disjoint.\",\"content\":{\"application/json\":{\"schema"
    "\":{\"$ref\":\"#/components/schemas/Message\"}}}}},\"x-salesflow-scope\":\"read\",\"security\":["
    "{\"bearer\":[]},{\"session\":[]},{}]}},\"/query.js\":{\"get\":{\"summary\":\"A file of the dashb"
    "oard and the Explore page (embedded in the binary)\",\"responses\":{\"200\":{\"description\":\"T"
    "he file.\"},\"401\":{\"description\":\"With read or admin keys set: no key, an unknown key or an"
    " ended session: {\\\"detail\\\":\\\"Not authenticated: …\\\"} or {\\\"detail\\\":\\\"Invalid key"
    "\\\"}, header WWW-Authenticate: Bearer realm=\\\"salesflow\\\" (a browser asking for a page gets"
    " the sign-in form instead). An Authorization header, when sent, decides alone.\",\"content\":{\""
    "application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Message\"}}}},\"403\":{\"descrip"
    "tion\":\"An ingest key: the scopes are disjoint.\",\"content\":{\"application/json\":{\"schema\""
    ":{\"$ref\":\"#/components/schemas/Message\"}}}}},\"x-salesflow-scope\":\"read\",\"security\":[{"
    "\"bearer\":[]},{\"session\":[]},{}]}},\"/openapi.json\":{\"get\":{\"summary\":\"This document\","
    "\"responses\":{\"200\":{\"description\":\"OpenAPI 3.1.\"}},\"x-salesflow-scope\":\"open\"}},\"/d"
    "ocs\":{\"get\":{\"summary\":\"This document rendered as a page (no network needed)\",\"responses"
    "\":{\"200\":{\"description\":\"HTML page.\"}},\"x-salesflow-scope\":\"open\"}},\"/api/query\":{"
    "\"get\":{\"summary\":\"Sums over the orders: one metric, grouped by up to four dimensions (at mo"
    "st one time bucket), filtered by time range, source and state; JSON or CSV\",\"parameters\":[{\""
    "name\":\"metric\",\"in\":\"query\",\"required\":true,\"description\":\"revenue (sum of totals), "
    "orders (count), quantity (sum), avg_order (revenue / orders, rounded half up to the cent; null w"
    "ith no orders).\",\"schema\":{\"type\":\"string\",\"enum\":[\"revenue\",\"orders\",\"quantity\","
    "\"avg_order\"]}},{\"name\":\"by\",\"in\":\"query\",\"required\":false,\"description\":\"Dimensio"
    "ns, comma-separated or repeated, in column order: source, state, customer_id, and at most one of"
    " minute, hour, day (UTC buckets, or tz's; the value is the bucket's start, 2026-12-06T00:00:00Z). None: o"
    "ne row over everything. At most 10,000 buckets.\",\"schema\":{\"type\":\"string\"}},{\"name\":\""
    "from\",\"in\":\"query\",\"required\":false,\"description\":\"Only orders created at or after thi"
    "s time. RFC 3339 (2026-12-06T00:00:00Z; fraction and offset optional, 2026-12-06T00:00:00+02:00)"
    ", YYYY-MM-DDTHH:MM (UTC), now, or a time before now (-90s, -15m, -1h, -1d).\",\"schema\":{\"type"
    "\":\"string\"}},{\"name\":\"to\",\"in\":\"query\",\"required\":false,\"description\":\"Only orde"
    "rs created before this time (exclusive). RFC 3339 (2026-12-06T00:00:00Z; fraction and offset opt"
    "ional, 2026-12-06T00:00:00+02:00), YYYY-MM-DDTHH:MM (UTC), now, or a time before now (-90s, -15m"
    ", -1h, -1d).\",\"schema\":{\"type\":\"string\"}},{\"name\":\"source\",\"in\":\"query\",\"require"
    "d\":false,\"description\":\"A known source, or several as source=A,B or repeated.\",\"schema\":{"
    "\"type\":\"string\"}},{\"name\":\"state\",\"in\":\"query\",\"required\":false,\"description\":\""
    "A state some stored order has, or several as above.\",\"schema\":{\"type\":\"string\"}},"
    "{\"name\":\"tz\",\"in\":\"query\",\"required\":false,\"description\":\"An offset from UTC"
    " for the hour and day buckets: Z (the default; z too) or +HH:MM / -HH:MM under 24 hours, such as +05:30"
    ". A bucket is then that clock's hour or day (from 2026-12-06T00:00:00+05:30, which is 2026-12-05"
    "T18:30:00Z), its value written with the offset. Exact: whole hours and days from the rollups whe"
    "re they lie in one bucket, the rest from minutes or orders. A fixed offset: a range across a day"
    "light-saving change asks each side with its own.\",\"schema\":{\"type\":\"string\",\"pattern"
    "\":\"^([Zz]|[+-]([01][0-9]|2[0-3]):[0-5][0-9])$\"}},{\"name"
    "\":\"format\",\"in\":\"query\",\"required\":false,\"description\":\"json (default) or csv.\",\"s"
    "chema\":{\"type\":\"string\",\"enum\":[\"json\",\"csv\"]}}],\"responses\":{\"200\":{\"descriptio"
    "n\":\"JSON {columns:[dimensions…, metric], rows:[[values…], …]}, sorted by the dimensions in ord"
    "er; money as numbers with two decimals. CSV (format=csv): a header line, then one line per row ("
    "CRLF), served as an attachment (Content-Disposition).\",\"content\":{\"application/json\":{\"sch"
    "ema\":{\"type\":\"object\",\"properties\":{\"columns\":{\"type\":\"array\",\"items\":{\"type\":"
    "\"string\"}},\"rows\":{\"type\":\"array\",\"items\":{\"type\":\"array\"}}}}},\"text/csv\":{\"sch"
    "ema\":{\"type\":\"string\"}}}},\"401\":{\"description\":\"With read or admin keys set: no key, a"
    "n unknown key or an ended session: {\\\"detail\\\":\\\"Not authenticated: …\\\"} or {\\\"detail"
    "\\\":\\\"Invalid key\\\"}, header WWW-Authenticate: Bearer realm=\\\"salesflow\\\" (a browser as"
    "king for a page gets the sign-in form instead). An Authorization header, when sent, decides alon"
    "e.\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Message\"}}}"
    "},\"403\":{\"description\":\"An ingest key: the scopes are disjoint.\",\"content\":{\"applicatio"
    "n/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Message\"}}}},\"422\":{\"description\":\"A"
    " bad parameter, named in loc ([\\\"query\\\", name]): missing or unknown metric, unknown dimensi"
    "on or parameter, two time buckets, from after to, an unparseable time, more than 10,000 buckets "
    "(or an answer of more than 100,000 rows), an unknown source or state, a bad format. A control ch"
    "aracter anywhere in the query is refused by the HTTP layer first (400).\",\"content\":{\"applica"
    "tion/json\":{\"schema\":{\"$ref\":\"#/components/schemas/HTTPValidationError\"}}}},\"503\":{\"de"
    "scription\":\"The store cannot answer: {\\\"detail\\\":\\\"store unavailable\\\"}; the reason is"
    " in the server's log.\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/s"
    "chemas/Message\"}}}}},\"x-salesflow-scope\":\"read\",\"security\":[{\"bearer\":[]},{\"session\":"
    "[]},{}]}},\"/api/charts\":{\"get\":{\"summary\":\"The saved charts, oldest first (at most 100)\""
    ",\"responses\":{\"200\":{\"description\":\"{charts:[{id, name, created, definition, error?}]}\","
    "\"content\":{\"application/json\":{\"schema\":{\"type\":\"object\",\"properties\":{\"charts\":{"
    "\"type\":\"array\",\"items\":{\"type\":\"object\",\"properties\":{\"id\":{\"type\":\"integer\"},"
    "\"name\":{\"type\":\"string\"},\"created\":{\"type\":\"string\"},\"definition\":{\"type\":[\"obj"
    "ect\",\"null\"],\"description\":\"The query's parameters (metric, by, from, to, source, state, f"
    "ormat; lists as arrays) plus type: line, bar, stacked, pie, table or number.\"},\"error\":{\"typ"
    "e\":\"string\",\"description\":\"Present when the stored definition no longer parses or validate"
    "s (definition is then null); the chart can still be removed.\"}}}}}}}}},\"401\":{\"description\""
    ":\"With read or admin keys set: no key, an unknown key or an ended session: {\\\"detail\\\":\\\""
    "Not authenticated: …\\\"} or {\\\"detail\\\":\\\"Invalid key\\\"}, header WWW-Authenticate: Bear"
    "er realm=\\\"salesflow\\\" (a browser asking for a page gets the sign-in form instead). An Autho"
    "rization header, when sent, decides alone.\",\"content\":{\"application/json\":{\"schema\":{\"$r"
    "ef\":\"#/components/schemas/Message\"}}}},\"403\":{\"description\":\"An ingest key: the scopes a"
    "re disjoint.\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Me"
    "ssage\"}}}},\"503\":{\"description\":\"The store cannot answer: {\\\"detail\\\":\\\"store unavai"
    "lable\\\"}; the reason is in the server's log.\",\"content\":{\"application/json\":{\"schema\":{"
    "\"$ref\":\"#/components/schemas/Message\"}}}}},\"x-salesflow-scope\":\"read\",\"security\":[{\"b"
    "earer\":[]},{\"session\":[]},{}]},\"post\":{\"summary\":\"Save a chart (an admin key when keys a"
    "re set)\",\"requestBody\":{\"required\":true,\"content\":{\"application/json\":{\"schema\":{\"ty"
    "pe\":\"object\",\"additionalProperties\":false,\"required\":[\"name\",\"definition\"],\"properti"
    "es\":{\"name\":{\"type\":\"string\",\"minLength\":1,\"maxLength\":200,\"description\":\"No co"
    "ntrol character (C0, DEL, C1), line or paragraph separator (U+2028, U+2029) or bidirectional con"
    "trol (U+200E, U+200F, U+202A-U+202E, U+2066-U+2069): a 422 names it as U+XXXX.\"},\"definition"
    "\":{\"type\":"
    "\"object\",\"additionalProperties\":false,\"description\":\"GET /api/query's metric, by, from, "
    "to, source and state (validated the same way; by, source and state as arrays of strings) plus a "
    "required type: line, bar, stacked, pie, table or number. No other member (format, tz: 422 naming"
    " it). At most 4096 bytes as compact JSON.\",\"properties\":{\"metric\":{\"type\":\"string\"},"
    "\"by\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},\"from\":{\"type\":\"string\"},"
    "\"to\":{\"type\":\"string\"},\"source\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},"
    "\"state\":{\"type\":\"array\",\"items\":{\"type\":\"string\"}},\"type\":{\"type\":\"string\""
    ",\"enum\":[\"line\",\"bar\",\"stacked\",\"pie\",\"table\",\"number\"]}},\"required\":[\"metri"
    "c\",\"type\"]}}},\""
    "example\":{\"name\":\"Revenue by day\",\"definition\":{\"metric\":\"revenue\",\"by\":[\"day\",\""
    "source\"],\"from\":\"-7d\",\"type\":\"stacked\"}}}}},\"responses\":{\"201\":{\"description\":\"{"
    "id, name, definition}\",\"content\":{\"application/json\":{\"schema\":{\"type\":\"object\"}}}},"
    "\"401\":{\"description\":\"With read or admin keys set: no key, an unknown key or an ended sessi"
    "on: {\\\"detail\\\":\\\"Not authenticated: …\\\"} or {\\\"detail\\\":\\\"Invalid key\\\"}, heade"
    "r WWW-Authenticate: Bearer realm=\\\"salesflow\\\" (a browser asking for a page gets the sign-in"
    " form instead). An Authorization header, when sent, decides alone.\",\"content\":{\"application/"
    "json\":{\"schema\":{\"$ref\":\"#/components/schemas/Message\"}}}},\"403\":{\"description\":\"A r"
    "ead key (or an ingest key), or read keys set and no admin key: nobody can write. Also a POST fro"
    "m another site (Origin check).\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/com"
    "ponents/schemas/Message\"}}}},\"422\":{\"description\":\"A bad name (not 1-200 characters, contr"
    "ol characters), a definition that does not validate (loc [\\\"body\\\", \\\"definition\\\", name"
    "]), an unknown field, or 100 charts saved already.\",\"content\":{\"application/json\":{\"schema"
    "\":{\"$ref\":\"#/components/schemas/HTTPValidationError\"}}}},\"503\":{\"description\":\"The sto"
    "re cannot answer: {\\\"detail\\\":\\\"store unavailable\\\"}; the reason is in the server's log."
    "\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Message\"}}}}}"
    ",\"x-salesflow-scope\":\"admin\",\"security\":[{\"bearer\":[]},{\"session\":[]},{}]}},\"/api/cha"
    "rts/{id}\":{\"delete\":{\"summary\":\"Remove a saved chart (an admin key when keys are set)\",\""
    "parameters\":[{\"name\":\"id\",\"in\":\"path\",\"required\":true,\"schema\":{\"type\":\"integer"
    "\",\"minimum\":1}}],\"responses\":{\"200\":{\"description\":\"{status: deleted, id}\",\"content"
    "\":{\"application/json\":{\"schema\":{\"type\":\"object\"}}}},\"401\":{\"description\":\"With re"
    "ad or admin keys set: no key, an unknown key or an ended session: {\\\"detail\\\":\\\"Not authen"
    "ticated: …\\\"} or {\\\"detail\\\":\\\"Invalid key\\\"}, header WWW-Authenticate: Bearer realm="
    "\\\"salesflow\\\" (a browser asking for a page gets the sign-in form instead). An Authorization "
    "header, when sent, decides alone.\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/"
    "components/schemas/Message\"}}}},\"403\":{\"description\":\"A read key (or an ingest key), or re"
    "ad keys set and no admin key: nobody can write. Also a POST from another site (Origin check).\","
    "\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Message\"}}}},\"4"
    "04\":{\"description\":\"No saved chart has this id.\",\"content\":{\"application/json\":{\"schem"
    "a\":{\"$ref\":\"#/components/schemas/Message\"}}}},\"422\":{\"description\":\"The id is not a po"
    "sitive whole number.\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/sc"
    "hemas/HTTPValidationError\"}}}},\"503\":{\"description\":\"The store cannot answer: {\\\"detail"
    "\\\":\\\"store unavailable\\\"}; the reason is in the server's log.\",\"content\":{\"application"
    "/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Message\"}}}}},\"x-salesflow-scope\":\"admi"
    "n\",\"security\":[{\"bearer\":[]},{\"session\":[]},{}]}},\"/signin\":{\"get\":{\"summary\":\"The"
    " sign-in form (with read or admin keys set)\",\"description\":\"Only when read or admin keys are"
    " set (404 otherwise). A plain HTML form (no script) under Content-Security-Policy: default-src '"
    "none'; it cannot be framed. ?next=/path: where a good key leads.\",\"parameters\":[{\"name\":\"n"
    "ext\",\"in\":\"query\",\"required\":false,\"schema\":{\"type\":\"string\",\"description\":\"a pa"
    "th on this server\"}}],\"responses\":{\"200\":{\"description\":\"HTML page.\",\"content\":{\"tex"
    "t/html\":{\"schema\":{\"type\":\"string\"}}}}},\"x-salesflow-scope\":\"open\"},\"post\":{\"summa"
    "ry\":\"Sign in with a read or admin key: a session cookie\",\"requestBody\":{\"required\":true,"
    "\"content\":{\"application/x-www-form-urlencoded\":{\"schema\":{\"type\":\"object\",\"required\""
    ":[\"key\"],\"properties\":{\"key\":{\"type\":\"string\",\"description\":\"a read or admin key\"}"
    ",\"next\":{\"type\":\"string\",\"description\":\"a path on this server; anything else goes to /"
    "\"}}}}}},\"responses\":{\"303\":{\"description\":\"Signed in: Location: next, Set-Cookie: salesf"
    "low_session=TOKEN; Max-Age=--session-ttl; Path=/; HttpOnly; SameSite=Strict (plus Secure behind "
    "HTTPS). TOKEN is random, never the key.\"},\"401\":{\"description\":\"A wrong key, an ingest key"
    ", or a malformed form: the form again with an error, no cookie.\",\"content\":{\"text/html\":{\""
    "schema\":{\"type\":\"string\"}}}},"
    "\"429\":{\"description\":\"Too many failed keys from this client address (--auth-fail-"
    "limit): the form again with a line saying how long to wait, no cookie, even for a right key. "
    "Header Retry-After: seconds.\",\"content\":{\"text/html\":{\"schema\":{\"type\":\"str"
    "ing\"}}}},"
    "\"403\":{\"description\":\"A POST from another site (Origin ch"
    "eck).\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Message\""
    "}}}}},\"x-salesflow-scope\":\"open\"}},\"/signout\":{\"get\":{\"summary\":\"A page with a sign-o"
    "ut button\",\"description\":\"Only when read or admin keys are set (404 otherwise).\",\"response"
    "s\":{\"200\":{\"description\":\"HTML page.\",\"content\":{\"text/html\":{\"schema\":{\"type\":\""
    "string\"}}}}},\"x-salesflow-scope\":\"open\"},\"post\":{\"summary\":\"End the session and clear "
    "its cookie\",\"responses\":{\"303\":{\"description\":\"Location: /signin; Set-Cookie clears sale"
    "sflow_session.\"},\"403\":{\"description\":\"A POST from another site (Origin check).\",\"conten"
    "t\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Message\"}}}}},\"x-salesf"
    "low-scope\":\"open\"}}}}";

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
    "var need={ingest:'an ingest (API) key',read:'a read or admin key',admin:'an admin key'}[o['x-salesflow-scope']];"
    "if(need)h+='<p>Needs '+need+' (<code>Authorization: Bearer KEY</code>'+(o['x-salesflow-scope']=='ingest'?'':', or a sign-in session')+') when the server has keys of that scope.</p>';"
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
