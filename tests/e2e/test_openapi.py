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


def routes():
    text = ""
    for layer, name in (("ingest", "routes.c"), ("web", "web.c")):
        with open(os.path.join(REPO, "src", layer, name)) as f:
            text += f.read()
    found = re.findall(r'\{"(GET|POST|DELETE)", "(/[^"]*)", \w+,\s[^}]*\}', text)
    assert len(found) >= 15, found
    # a prefix route ("/api/charts/") is described with its parameter
    return [(m, p + "{id}" if len(p) > 1 and p.endswith("/") else p) for m, p in found]


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
            got, _, _ = self.fetch(path, method)
            self.assertNotIn(got, (404, 405), "%s %s answered %d" % (method, path, got))
        # Nothing documented that the server does not have.
        have = {p for _, p in routes()}
        self.assertEqual(set(doc["paths"]) - have, set())

    def test_docs_page_renders_the_document(self):
        status, ctype, body = self.fetch("/docs")
        self.assertEqual(status, 200)
        self.assertIn("text/html", ctype)
        self.assertIn(b"/openapi.json", body)
        self.assertNotIn(b"https://", body)   # no network: no CDN


if __name__ == "__main__":
    unittest.main()
