"""GET /openapi.json describes every route the server has (the route tables
the layers register: src/ingest/routes.c, src/web/web.c), each answers for
its method, and GET /docs renders
the document in the page itself."""

import json
import os
import re
import unittest
import urllib.error
import urllib.request

from harness import REPO, Server


def route_table():
    """(method, path, flags text) of every route of the route tables."""
    text = ""
    for layer, name in (("ingest", "routes.c"), ("web", "web.c"), ("http", "signin.c")):
        with open(os.path.join(REPO, "src", layer, name)) as f:
            text += f.read()
    found = re.findall(r'\{"(GET|POST|DELETE)", "(/[^"]*)", \w+,\s([^}]*)\}', text)
    assert len(found) >= 19, found
    # a prefix route ("/api/charts/") is described with its parameter
    return [(m, p + "{id}" if len(p) > 1 and p.endswith("/") else p, f) for m, p, f in found]


def routes():
    return [(m, p) for m, p, _ in route_table()]


def scope(method, flags):
    """The key a route needs (docs/api.md, "Keys"), from its flags."""
    if "HTTP_ROUTE_AUTH" in flags:
        return "ingest"
    if "HTTP_ROUTE_OPEN" in flags:
        return "open"
    if "HTTP_ROUTE_ADMIN" in flags or method not in ("GET", "HEAD"):
        return "admin"
    return "read"


class OpenAPI(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.s = Server()
        cls.s.start()

    @classmethod
    def tearDownClass(cls):
        cls.s.cleanup()

    def fetch(self, path, method="GET"):
        req = urllib.request.Request(self.s.url + path, method=method,
                                     data=b"{}" if method == "POST" else None,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, r.headers.get("Content-Type", ""), (
                    r.read() if path != "/api/stream" else b"")
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("Content-Type", ""), e.read()

    def test_every_route_is_described_and_answers(self):
        status, ctype, body = self.fetch("/openapi.json")
        self.assertEqual(status, 200)
        self.assertIn("application/json", ctype)
        doc = json.loads(body)
        self.assertEqual(doc["openapi"], "3.1.0")
        for method, path in routes():
            self.assertTrue(path in doc["paths"], "%s %s is not in /openapi.json" % (method, path))
            op = doc["paths"][path].get(method.lower())
            self.assertIsNotNone(op, "%s %s: no %s operation" % (method, path, method))
            self.assertTrue(op.get("summary"), path)
            self.assertTrue(op.get("responses"), path)
            if path == "/api/stream":
                continue   # a stream that stays open; its route is checked elsewhere
            if path in ("/signin", "/signout"):
                continue   # only with read or admin keys: see test_sign_in_pages
            got, _, _ = self.fetch(path, method)
            self.assertNotIn(got, (404, 405), "%s %s answered %d" % (method, path, got))
        # Nothing documented that the server does not have.
        have = {p for _, p in routes()}
        self.assertEqual(set(doc["paths"]) - have, set())

    def test_every_operation_says_which_key_it_needs(self):
        doc = json.loads(self.fetch("/openapi.json")[2])
        schemes = doc["components"]["securitySchemes"]
        self.assertEqual(schemes["session"], {"type": "apiKey", "in": "cookie",
                                              "name": "salesflow_session"})
        want_security = {"ingest": [{"bearer": []}, {}],
                         "read": [{"bearer": []}, {"session": []}, {}],
                         "admin": [{"bearer": []}, {"session": []}, {}], "open": None}
        for method, path, flags in route_table():
            op = doc["paths"][path][method.lower()]
            sc = scope(method, flags)
            with self.subTest(method=method, path=path):
                self.assertEqual(op.get("x-salesflow-scope"), sc)
                self.assertEqual(op.get("security"), want_security[sc])
                if sc in ("read", "admin"):
                    self.assertIn("401", op["responses"])
                if sc != "open":    # a key that can fail; any request line can
                    self.assertIn("429", op["responses"])
                    self.assertIn("400", op["responses"])
                if sc == "admin":
                    self.assertIn("403", op["responses"])
        self.assertIn("--read-key", doc["info"]["description"])
        # Failed keys: 429 once an address is over --auth-fail-limit.
        self.assertIn("--auth-fail-limit", doc["info"]["description"])
        for path in ("/signin", "/orderitem", "/v1/orders"):
            self.assertIn("429", doc["paths"][path]["post"]["responses"], path)
        # the query threads' routes: a query past --query-timeout
        for path in ("/api/query", "/api/sales", "/api/orders", "/api/sales/minute"):
            self.assertIn("504", doc["paths"][path]["get"]["responses"], path)
        # what POST /api/charts answers to a big or non-JSON body
        for code in ("413", "415"):
            self.assertIn(code, doc["paths"]["/api/charts"]["post"]["responses"])

    def test_sign_in_pages(self):
        doc = json.loads(self.fetch("/openapi.json")[2])
        srv = Server(extra=["--read-key", "openapi-read-key-1"]).start()
        try:
            for path in ("/signin", "/signout"):
                self.assertIn("read or admin keys", doc["paths"][path]["get"]["description"])
                with urllib.request.urlopen(srv.url + path, timeout=10) as r:
                    self.assertEqual(r.status, 200, path)
        finally:
            srv.cleanup()

    def test_docs_page_renders_the_document(self):
        status, ctype, body = self.fetch("/docs")
        self.assertEqual(status, 200)
        self.assertIn("text/html", ctype)
        self.assertIn(b"/openapi.json", body)
        self.assertNotIn(b"https://", body)   # no network: no CDN


if __name__ == "__main__":
    unittest.main()
