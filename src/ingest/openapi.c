/*
 * openapi — GET /openapi.json (an OpenAPI 3.1 description of every
 * endpoint, field, status and error body) and GET /docs (the same document
 * rendered as a page by a small inline script: no network, no CDN).
 *
 * The document is one compact string literal. Its list of sources shows the
 * defaults; a server started with --sources answers with its own list
 * (patched in when the document is served).
 */
#include "ingest/http.h"

#include <string.h>

static const char spec[] =
    "{\"openapi\":\"3.1.0\",\"info\":{\"title\":\"salesflow\",\"version\":\"0.1.0\",\"description\":\"Real-time "
    "sales pipeline: ingestion API, dashboard and query API. A 2xx from an ingestion endpoint m"
    "eans every accepted order is durable (fsync'd in the embedded log). Bad input gets a 4xx a"
    "nd leaves no trace in the log. When the server has API keys (--api-key, SALESFLOW_API_KEYS"
    ", --api-key-file), the ingestion endpoints need Authorization: Bearer KEY; the dashboard, "
    "the query API and this document stay open.\"},\"components\":{\"securitySchemes\":{\"bearer\":{\"t"
    "ype\":\"http\",\"scheme\":\"bearer\"}},\"schemas\":{\"Order\":{\"type\":\"object\",\"additionalProperties\""
    ":false,\"required\":[\"customer_id\",\"source\",\"quantity\"],\"description\":\"One order. Any other "
    "field is rejected with type extra_forbidden.\",\"properties\":{\"customer_id\":{\"type\":\"integer"
    "\",\"minimum\":1,\"description\":\"A customer of the catalog (--customers, reloaded on SIGHUP). "
    "Also accepted: a whole float (3.0) or a string of digits (\\\"3\\\").\"},\"source\":{\"type\":\"stri"
    "ng\",\"enum\":[\"Dine In\",\"Takeaway\",\"Home Delivery\"],\"description\":\"One of the configured sou"
    "rces (--sources; these are the defaults).\"},\"quantity\":{\"type\":\"integer\",\"minimum\":1,\"maxi"
    "mum\":1000000,\"description\":\"Units; lax integers as for customer_id.\"},\"order_id\":{\"type\":\""
    "string\",\"minLength\":1,\"maxLength\":64,\"pattern\":\"^[\\\\x20-\\\\x7e]+$\",\"description\":\"Idempoten"
    "cy key. An order_id seen within --dedupe-window (default 24 h, survives restarts) is answe"
    "red with the first result and not stored again. Default: a server UUIDv7.\"},\"created_at\":{"
    "\"type\":\"string\",\"description\":\"Event time: RFC 3339 (2026-11-29T03:40:00Z, offset and frac"
    "tion optional) or the original \\\"%m/%d/%Y, %H:%M:%S\\\" (UTC). Default: server UTC now.\"},\"u"
    "nit_price\":{\"oneOf\":[{\"type\":\"number\",\"minimum\":0},{\"type\":\"string\"}],\"description\":\"Decim"
    "al >= 0 with at most 2 decimals, as a number or a string (\\\"12.50\\\"); at most 100000000000"
    "0.00. Default: --unit-price (300.00). total = quantity x unit_price.\"}},\"example\":{\"custom"
    "er_id\":3,\"source\":\"Dine In\",\"quantity\":7}},\"ValidationError\":{\"type\":\"object\",\"required\":["
    "\"loc\",\"msg\",\"type\"],\"properties\":{\"loc\":{\"type\":\"array\",\"items\":{\"oneOf\":[{\"type\":\"string\""
    "},{\"type\":\"integer\"}]},\"description\":\"[\\\"body\\\", field], [\\\"body\\\", row, field] in a batch"
    ", [\\\"body\\\"] for the whole body, [\\\"query\\\", name].\"},\"msg\":{\"type\":\"string\",\"description\""
    ":\"What is wrong, for a person.\"},\"type\":{\"type\":\"string\",\"description\":\"pydantic's error t"
    "ype: missing, int_type, int_parsing, int_from_float, int_parsing_size, string_type, litera"
    "l_error, greater_than_equal, less_than_equal, value_error, json_invalid, model_attributes_"
    "type, extra_forbidden, string_too_short, string_too_long, string_pattern_mismatch, datetim"
    "e_type, datetime_parsing, decimal_type, decimal_parsing, decimal_max_places, too_short, to"
    "o_long; and for rows the log refused: unavailable, storage_error.\"}}},\"HTTPValidationError"
    "\":{\"type\":\"object\",\"properties\":{\"detail\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/components/sc"
    "hemas/ValidationError\"}}}},\"Message\":{\"type\":\"object\",\"properties\":{\"detail\":{\"type\":\"stri"
    "ng\"}}},\"OrderItemCreated\":{\"type\":\"object\",\"properties\":{\"status\":{\"const\":\"success\"},\"mes"
    "sage\":{\"const\":\"Stock entry created\"},\"order_id\":{\"type\":\"string\"}}},\"RowResult\":{\"oneOf\":"
    "[{\"type\":\"object\",\"required\":[\"index\",\"order_id\"],\"properties\":{\"index\":{\"type\":\"integer\"}"
    ",\"order_id\":{\"type\":\"string\"},\"duplicate\":{\"type\":\"boolean\",\"description\":\"true: the order"
    "_id was stored before (or earlier in this request); it was not stored again\"}}},{\"type\":\"o"
    "bject\",\"required\":[\"index\",\"detail\"],\"properties\":{\"index\":{\"type\":\"integer\"},\"detail\":{\"t"
    "ype\":\"array\",\"items\":{\"$ref\":\"#/components/schemas/ValidationError\"}}}}]},\"BatchResult\":{\""
    "type\":\"object\",\"required\":[\"accepted\",\"rejected\",\"results\"],\"properties\":{\"accepted\":{\"typ"
    "e\":\"integer\"},\"rejected\":{\"type\":\"integer\"},\"results\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/c"
    "omponents/schemas/RowResult\"},\"description\":\"One per row, in request order.\"}}},\"Quarantin"
    "eItem\":{\"type\":\"object\",\"properties\":{\"time\":{\"type\":\"string\"},\"endpoint\":{\"type\":\"string\""
    "},\"index\":{\"type\":\"integer\"},\"detail\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/components/schema"
    "s/ValidationError\"}},\"raw\":{\"type\":\"string\",\"description\":\"The row as sent (first 64 KiB; "
    "invalid UTF-8 replaced by U+FFFD)\"},\"raw_truncated\":{\"type\":\"boolean\"},\"raw_lossy\":{\"type\""
    ":\"boolean\"}}}}},\"paths\":{\"/orderitem\":{\"post\":{\"summary\":\"Create one order (the original F"
    "astAPI endpoint)\",\"security\":[{\"bearer\":[]},{}],\"requestBody\":{\"required\":true,\"content\":{"
    "\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Order\"}}}},\"responses\":{\"201\":{"
    "\"description\":\"Stored durably (or an order_id stored before).\",\"content\":{\"application/jso"
    "n\":{\"schema\":{\"$ref\":\"#/components/schemas/OrderItemCreated\"}}}},\"422\":{\"description\":\"Inv"
    "alid order or malformed JSON: one entry per problem.\",\"content\":{\"application/json\":{\"sche"
    "ma\":{\"$ref\":\"#/components/schemas/HTTPValidationError\"}}}},\"401\":{\"description\":\"No or wro"
    "ng API key (only when the server has API keys): {\\\"detail\\\":\\\"Not authenticated: \\u2026\\\"}"
    " or {\\\"detail\\\":\\\"Invalid API key\\\"}. Header WWW-Authenticate: Bearer.\",\"content\":{\"applic"
    "ation/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Message\"}}}},\"408\":{\"description\":\"The"
    " headers or the body did not arrive within the read timeouts (--header-timeout, --body-tim"
    "eout); the connection is closed.\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/compo"
    "nents/schemas/Message\"}}}},\"413\":{\"description\":\"Body larger than the limit (1 MiB for /or"
    "deritem, --max-body for /v1/orders), or more rows than --max-batch.\",\"content\":{\"applicati"
    "on/json\":{\"schema\":{\"oneOf\":[{\"$ref\":\"#/components/schemas/Message\"},{\"$ref\":\"#/components"
    "/schemas/HTTPValidationError\"}]}}}},\"415\":{\"description\":\"Content-Type is not JSON (or NDJ"
    "SON for /v1/orders).\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schema"
    "s/Message\"}}}},\"431\":{\"description\":\"Request headers too large (about 32 KiB in all).\"},\"5"
    "03\":{\"description\":\"The log's append queue is full, too many request bodies are in memory,"
    " or the server is shutting down: retry after Retry-After seconds.\",\"content\":{\"application"
    "/json\":{\"schema\":{\"oneOf\":[{\"$ref\":\"#/components/schemas/Message\"},{\"$ref\":\"#/components/s"
    "chemas/BatchResult\"}]}}},\"headers\":{\"Retry-After\":{\"description\":\"seconds to wait before r"
    "etrying\",\"schema\":{\"type\":\"integer\"}}}},\"507\":{\"description\":\"The log could not be written"
    " (disk full or I/O error); nothing was stored.\",\"content\":{\"application/json\":{\"schema\":{\""
    "oneOf\":[{\"$ref\":\"#/components/schemas/Message\"},{\"$ref\":\"#/components/schemas/BatchResult\""
    "}]}}}}}}},\"/v1/orders\":{\"post\":{\"summary\":\"Create orders: one object, an array, or NDJSON;"
    " per-row results\",\"description\":\"Rows are validated one by one. Good rows are stored; bad "
    "rows are reported and kept in the quarantine (GET /v1/quarantine). The reply is sent once "
    "every accepted row is durable. A body that is not JSON, not an object or array, or has no "
    "rows gets a 422 {\\\"detail\\\":[\\u2026]} and nothing is stored.\",\"security\":[{\"bearer\":[]},{}"
    "],\"requestBody\":{\"required\":true,\"content\":{\"application/json\":{\"schema\":{\"oneOf\":[{\"$ref\""
    ":\"#/components/schemas/Order\"},{\"type\":\"array\",\"items\":{\"$ref\":\"#/components/schemas/Order"
    "\"}}]}},\"application/x-ndjson\":{\"schema\":{\"type\":\"string\",\"description\":\"One Order per line"
    "; blank lines are skipped. Also accepted: application/ndjson, application/jsonl.\"}}}},\"res"
    "ponses\":{\"201\":{\"description\":\"Every row accepted.\",\"content\":{\"application/json\":{\"schema"
    "\":{\"$ref\":\"#/components/schemas/BatchResult\"}}}},\"207\":{\"description\":\"Some rows accepted,"
    " some rejected.\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Bat"
    "chResult\"}}}},\"422\":{\"description\":\"No row accepted (BatchResult), or the body is unusable"
    " (HTTPValidationError).\",\"content\":{\"application/json\":{\"schema\":{\"oneOf\":[{\"$ref\":\"#/comp"
    "onents/schemas/BatchResult\"},{\"$ref\":\"#/components/schemas/HTTPValidationError\"}]}}}},\"401"
    "\":{\"description\":\"No or wrong API key (only when the server has API keys): {\\\"detail\\\":\\\"N"
    "ot authenticated: \\u2026\\\"} or {\\\"detail\\\":\\\"Invalid API key\\\"}. Header WWW-Authenticate: "
    "Bearer.\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Message\"}}}"
    "},\"408\":{\"description\":\"The headers or the body did not arrive within the read timeouts (-"
    "-header-timeout, --body-timeout); the connection is closed.\",\"content\":{\"application/json\""
    ":{\"schema\":{\"$ref\":\"#/components/schemas/Message\"}}}},\"413\":{\"description\":\"Body larger th"
    "an the limit (1 MiB for /orderitem, --max-body for /v1/orders), or more rows than --max-ba"
    "tch.\",\"content\":{\"application/json\":{\"schema\":{\"oneOf\":[{\"$ref\":\"#/components/schemas/Mess"
    "age\"},{\"$ref\":\"#/components/schemas/HTTPValidationError\"}]}}}},\"415\":{\"description\":\"Conte"
    "nt-Type is not JSON (or NDJSON for /v1/orders).\",\"content\":{\"application/json\":{\"schema\":{"
    "\"$ref\":\"#/components/schemas/Message\"}}}},\"431\":{\"description\":\"Request headers too large "
    "(about 32 KiB in all).\"},\"503\":{\"description\":\"The log's append queue is full, too many re"
    "quest bodies are in memory, or the server is shutting down: retry after Retry-After second"
    "s.\",\"content\":{\"application/json\":{\"schema\":{\"oneOf\":[{\"$ref\":\"#/components/schemas/Messag"
    "e\"},{\"$ref\":\"#/components/schemas/BatchResult\"}]}}},\"headers\":{\"Retry-After\":{\"description"
    "\":\"seconds to wait before retrying\",\"schema\":{\"type\":\"integer\"}}}},\"507\":{\"description\":\"T"
    "he log could not be written (disk full or I/O error); nothing was stored.\",\"content\":{\"app"
    "lication/json\":{\"schema\":{\"oneOf\":[{\"$ref\":\"#/components/schemas/Message\"},{\"$ref\":\"#/comp"
    "onents/schemas/BatchResult\"}]}}}}}}},\"/v1/quarantine\":{\"get\":{\"summary\":\"The most recent r"
    "ejected rows, newest first\",\"security\":[{\"bearer\":[]},{}],\"parameters\":[{\"name\":\"limit\",\"i"
    "n\":\"query\",\"schema\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":1000,\"default\":100}}],\"respons"
    "es\":{\"200\":{\"description\":\"Rejected rows.\",\"content\":{\"application/json\":{\"schema\":{\"type\""
    ":\"object\",\"properties\":{\"count\":{\"type\":\"integer\"},\"items\":{\"type\":\"array\",\"items\":{\"$ref\""
    ":\"#/components/schemas/QuarantineItem\"}}}}}}},\"422\":{\"description\":\"Bad limit.\",\"content\":"
    "{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/HTTPValidationError\"}}}},\"401\""
    ":{\"description\":\"No or wrong API key (only when the server has API keys): {\\\"detail\\\":\\\"No"
    "t authenticated: \\u2026\\\"} or {\\\"detail\\\":\\\"Invalid API key\\\"}. Header WWW-Authenticate: B"
    "earer.\",\"content\":{\"application/json\":{\"schema\":{\"$ref\":\"#/components/schemas/Message\"}}}}"
    "}}},\"/api/sales\":{\"get\":{\"summary\":\"The sales aggregate per (source, state)\",\"responses\":{"
    "\"200\":{\"description\":\"Rows and totals.\",\"content\":{\"application/json\":{\"schema\":{\"type\":\"o"
    "bject\"}}}}}}},\"/healthz\":{\"get\":{\"summary\":\"Liveness\",\"responses\":{\"200\":{\"description\":\"A"
    "live.\"}}}},\"/\":{\"get\":{\"summary\":\"The dashboard (HTML)\",\"responses\":{\"200\":{\"description\":"
    "\"HTML page.\"}}}},\"/openapi.json\":{\"get\":{\"summary\":\"This document\",\"responses\":{\"200\":{\"de"
    "scription\":\"OpenAPI 3.1.\"}}}},\"/docs\":{\"get\":{\"summary\":\"This document rendered as a page "
    "(no network needed)\",\"responses\":{\"200\":{\"description\":\"HTML page.\"}}}}}}";

static const char docs_head[] =
    "<!doctype html><html lang=en><head><meta charset=utf-8>"
    "<meta name=viewport content=\"width=device-width,initial-scale=1\">"
    "<title>salesflow API</title><style>"
    "body{font:15px/1.5 system-ui,sans-serif;max-width:960px;margin:2em auto;padding:0 1em;color:#222}"
    "h2{border-bottom:1px solid #ddd;margin-top:2em}code,pre{background:#f5f5f5;border-radius:3px}"
    "pre{padding:.6em;overflow:auto;font-size:13px}.m{display:inline-block;min-width:4em;"
    "font-weight:bold;color:#fff;border-radius:3px;padding:0 .4em;text-align:center}"
    ".get{background:#2a7ab0}.post{background:#3a9a4a}table{border-collapse:collapse}"
    "td,th{border:1px solid #ddd;padding:.2em .5em;vertical-align:top;text-align:left}"
    "</style></head><body><div id=doc>Loading…</div>"
    "<script type=\"application/json\" id=spec>";

static const char docs_tail[] =
    "</script><script>"
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
    rc |= sf_buf_append(out, "\"enum\":[", 8);
    for (size_t i = 0; i < sf_source_count; i++) {
        if (i)
            rc |= sf_buf_append(out, ",", 1);
        rc |= sf_buf_json_str(out, sf_sources[i]);
    }
    rc |= sf_buf_append(out, "]", 1);
    at += sizeof(dflt) - 1;
    rc |= sf_buf_append(out, at, strlen(at));
    return rc ? -1 : 0;
}

enum MHD_Result ingest_openapi(struct http_req *r)
{
    struct sf_buf b;
    sf_buf_init(&b, sizeof(spec) + 4096);
    if (build_spec(&b)) {
        sf_buf_free(&b);
        return http_error(r->conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    }
    enum MHD_Result rc = http_reply_json(r->conn, MHD_HTTP_OK, b.data);
    sf_buf_free(&b);
    return rc;
}

enum MHD_Result ingest_docs(struct http_req *r)
{
    struct sf_buf b;
    sf_buf_init(&b, sizeof(spec) + sizeof(docs_head) + sizeof(docs_tail) + 4096);
    int rc = sf_buf_append(&b, docs_head, sizeof(docs_head) - 1);
    rc |= build_spec(&b);
    rc |= sf_buf_append(&b, docs_tail, sizeof(docs_tail) - 1);
    if (rc) {
        sf_buf_free(&b);
        return http_error(r->conn, MHD_HTTP_INTERNAL_SERVER_ERROR, "out of memory");
    }
    enum MHD_Result res = http_reply(r->conn, MHD_HTTP_OK, "text/html; charset=utf-8",
                                     b.data, b.len);
    sf_buf_free(&b);
    return res;
}
