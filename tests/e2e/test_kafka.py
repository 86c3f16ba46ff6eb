"""Kafka mode against librdkafka's mock cluster (tests/kafka/mockcluster.c):
interop with kcat both ways, quarantine of foreign messages that are not
orders, a missing topic, `run --broker kafka://…` (with the idempotency index
rebuilt from the topic), and `replay --broker`."""

import json
import os
import time
import unittest

from harness import run_cli, free_port, expected_sales, cents, STATES
from kafkahelp import (KafkaCase, MockCluster, Ingest, Process, have_kafka_tools, kcat,
                       tempdir, rmtree, db_query, wait_count, GROUP_OPTS)
from harness import Server

OK, WHY = have_kafka_tools()


def original(cust, source, qty, when="11/29/2024, 03:40:00", total=True):
    """A message the original Python producer wrote: no order_id, created_at
    as "%m/%d/%Y, %H:%M:%S", total a float."""
    m = {"customer_id": cust, "source": source, "quantity": qty}
    if total:
        m["total"] = float(qty * 300)
    m["created_at"] = when
    return json.dumps(m)


def check_sales_match_orders(test, db):
    rows = db_query(db, "SELECT source, state, total_cents, quantity FROM orders")
    want = expected_sales(rows)
    got = {(s, st): [c, n, q] for s, st, c, n, q in db_query(
        db, "SELECT source, state, total_sum_cents, order_count, quantity FROM sales")}
    test.assertEqual(got, {k: v for k, v in want.items()})


@unittest.skipUnless(OK, WHY)
class KafkaInterop(KafkaCase):
    def test_kcat_original_format_is_processed_and_bad_messages_quarantined(self):
        db = os.path.join(self.tmp, "sales.db")
        p = self.process(db)
        # Keyed messages in the original format, one with no total (priced
        # by the catalog), then two that are not orders on key 5's
        # partition, then more on the same key: the partition must move on.
        good = [(3, "Dine In", 7), (4, "Takeaway", 2), (5, "Home Delivery", 1),
                (6, "Dine In", 10), (17, "Takeaway", 3)]
        lines = ["%d:%s" % (c, original(c, s, q)) for c, s, q in good]
        lines.append("5:%s" % original(5, "Dine In", 4, when="01/02/2025, 13:14:15",
                                         total=False))
        lines.append("5:this is not JSON at all")
        lines.append('5:{"customer_id": 5, "source": "Drive Thru", "quantity": 1, '
                     '"created_at": "11/29/2024, 03:40:00"}')
        lines += ["5:%s" % original(5, "Takeaway", q) for q in (11, 12, 13)]
        r = kcat("-P", "-b", self.mock.bootstraps, "-t", "Order", "-K:",
                 input="\n".join(lines).encode() + b"\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        # And one without a key at all.
        r = kcat("-P", "-b", self.mock.bootstraps, "-t", "Order",
                 input=original(1, "Dine In", 9).encode() + b"\n")
        self.assertEqual(r.returncode, 0, r.stderr)

        wait_count(db, 10, timeout=60, procs=[p])
        rows = db_query(db, "SELECT uuid, customer_id, source, quantity, total, created_at,"
                        " state FROM orders ORDER BY customer_id, quantity")
        self.assertEqual(len(rows), 10)
        for uuid, cust, source, qty, total, created, state in rows:
            self.assertEqual(state, STATES[cust])
            self.assertEqual(cents(total), qty * 30000)
            self.assertRegex(uuid, r"^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}"
                             r"-[0-9a-f]{12}$",
                             "a message without order_id gets a derived id")
        created = {(c, q): ts for _, c, _, q, _, ts, _ in rows}
        self.assertTrue(created[(3, 7)].startswith("2024-11-29T03:40:00"), created)
        self.assertTrue(created[(5, 4)].startswith("2025-01-02T13:14:15"), created)
        check_sales_match_orders(self, db)

        # The two bad messages are in the quarantine with where and why.
        q = p.quarantine()
        self.assertEqual(len(q), 2, q)
        raws = sorted(e["raw"] for e in q)
        self.assertIn("this is not JSON at all", raws)
        for e in q:
            self.assertTrue(e["endpoint"].startswith("log:Order/"), e)
            loc = e["detail"][0]["loc"]
            self.assertEqual(loc[:2], ["log", "Order"])
            self.assertEqual(e["index"], loc[3])
            self.assertEqual(e["detail"][0]["type"], "not_an_order")
            self.assertTrue(e["detail"][0]["msg"])
        # ...and the partition moved past them: its stored position is the
        # end of the partition.
        part = q[0]["detail"][0]["loc"][2]
        (pos,) = db_query(db, "SELECT next_offset FROM salesflow_offsets WHERE "
                          "topic LIKE 'Order@kafka-%' AND partition=?", (part,))[0]
        r = kcat("-C", "-b", self.mock.bootstraps, "-t", "Order", "-p", str(part), "-e",
                 "-f", "%o\n")
        offsets = [int(x) for x in r.stdout.split()]
        self.assertEqual(pos, max(offsets) + 1)

        # Derived ids are deterministic: a replay from the topic into a new
        # store produces the very same rows.
        db2 = os.path.join(self.tmp, "replay.db")
        r = run_cli("replay", "--broker", self.mock.uri(), "--store", "sqlite:" + db2)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("10 orders", r.stdout)
        self.assertIn("2 not orders", r.stdout)
        q = "SELECT uuid, customer_id, source, quantity, total, created_at, state FROM " \
            "orders ORDER BY uuid"
        self.assertEqual(db_query(db2, q), db_query(db, q))
        self.assertEqual(db_query(db2, "SELECT * FROM salesflow_offsets ORDER BY partition"),
                         db_query(db, "SELECT * FROM salesflow_offsets ORDER BY partition"))

    def test_salesflow_messages_read_back_with_kcat(self):
        ing = Ingest(self.mock.uri(), data=os.path.join(self.tmp, "ing")).start()
        try:
            ids = {}
            for cust, src, qty in [(3, "Dine In", 7), (12, "Home Delivery", 1),
                                   (17, "Takeaway", 100)]:
                status, body = ing.post_json("/orderitem", {"customer_id": cust,
                                                            "source": src, "quantity": qty})
                self.assertEqual(status, 201, body)
                ids[json.loads(body)["order_id"]] = (cust, src, qty)
            status, body = ing.post_json("/v1/orders", [
                {"customer_id": 1, "source": "Dine In", "quantity": 2,
                 "order_id": "pos-17-000123", "created_at": "2026-01-02T03:04:05Z",
                 "unit_price": "12.50"}])
            self.assertEqual(status, 201, body)
            ids["pos-17-000123"] = (1, "Dine In", 2)
        finally:
            ing.stop()
        r = kcat("-C", "-b", self.mock.bootstraps, "-t", "Order", "-e", "-J")
        self.assertEqual(r.returncode, 0, r.stderr)
        msgs = [json.loads(line) for line in r.stdout.decode().splitlines()]
        self.assertEqual(len(msgs), 4)
        seen = {}
        for m in msgs:
            v = json.loads(m["payload"], parse_float=str)
            self.assertEqual(m["key"], str(v["customer_id"]), "key = customer_id")
            self.assertEqual(set(v), {"customer_id", "source", "quantity", "total",
                                      "created_at", "order_id"})
            seen[v["order_id"]] = v
        self.assertEqual(set(seen), set(ids))
        for oid, (cust, src, qty) in ids.items():
            v = seen[oid]
            self.assertEqual((v["customer_id"], v["source"], v["quantity"]), (cust, src, qty))
        self.assertEqual(seen["pos-17-000123"]["total"], "25.00")
        self.assertEqual(seen["pos-17-000123"]["created_at"][:19], "2026-01-02T03:04:05")
        self.assertEqual(cents(next(v for k, v in seen.items() if v["customer_id"] == 3)
                               ["total"]), 7 * 30000)

    def test_gen_and_replay_with_kafka(self):
        acked = os.path.join(self.tmp, "acked")
        r = run_cli("gen", "--broker", self.mock.uri(), "--count", "300", "--seed", "7",
                    "--acked", acked)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("300 created (acked)", r.stdout)
        with open(acked) as f:
            ids = set(f.read().split())
        self.assertEqual(len(ids), 300)
        db = os.path.join(self.tmp, "r.db")
        r = run_cli("replay", "--broker", self.mock.uri(), "--store", "sqlite:" + db)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual({u for (u,) in db_query(db, "SELECT uuid FROM orders")}, ids)
        check_sales_match_orders(self, db)
        # Replaying again rebuilds the same tables from scratch.
        before = db_query(db, "SELECT * FROM sales ORDER BY source, state")
        r = run_cli("replay", "--broker", self.mock.uri(), "--store", "sqlite:" + db)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(db_query(db, "SELECT * FROM sales ORDER BY source, state"), before)
        self.assertEqual(sum(n for (n,) in db_query(
            db, "SELECT next_offset FROM salesflow_offsets")), 300)

    def test_standalone_process_reports_log_end_and_lag(self):
        """`process --listen` on Kafka learns each partition's log end from the
        fetches, so /metrics shows end offsets and lag and /readyz checks lag."""
        import re
        import urllib.request
        db = os.path.join(self.tmp, "lag.db")
        port = free_port()
        p = Process(self.mock.uri(), "sqlite:" + db, name="lag", tmp=self.tmp,
                    extra=["--listen", "127.0.0.1:%d" % port, "--ready-lag", "0"]).start()
        self.procs.append(p)

        def scrape():
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as r:
                text = r.read().decode()
            ends = {int(a): int(b) for a, b in re.findall(
                r'^salesflow_log_end_offset\{partition="(\d+)"\} (\d+)$', text, re.M)}
            lags = {int(a): int(b) for a, b in re.findall(
                r'^salesflow_processor_lag\{partition="(\d+)"\} (\d+)$', text, re.M)}
            return ends, lags

        for total in (300, 500):
            r = run_cli("gen", "--broker", self.mock.uri(), "--count", str(total - (
                0 if total == 300 else 300)), "--seed", str(total))
            self.assertEqual(r.returncode, 0, r.stderr)
            wait_count(db, total, procs=[p])
            deadline = time.time() + 20
            while time.time() < deadline:
                try:
                    ends, lags = scrape()
                except OSError:
                    ends, lags = {}, {}
                if sum(ends.values()) == total and len(lags) == 6 and not any(lags.values()):
                    break
                time.sleep(0.2)
            self.assertEqual(sum(ends.values()), total, (ends, p.stderr()))
            self.assertEqual(sorted(lags), list(range(6)))
            self.assertEqual(sum(lags.values()), 0)
        with urllib.request.urlopen("http://127.0.0.1:%d/readyz" % port, timeout=5) as r:
            body = json.loads(r.read())
        self.assertEqual(r.status, 200)
        self.assertEqual(body["checks"].get("processor_lag"), 0, body)

    def test_missing_topic_is_a_clear_error(self):
        # The mock creates any topic a metadata request names; this makes it
        # answer "unknown topic" the way a real cluster does.
        self.mock.cmd("topic-error Missing UNKNOWN_TOPIC_OR_PART")
        for cmd in (["ingest", "--listen", "127.0.0.1:%d" % free_port(),
                     "--data", os.path.join(self.tmp, "i")],
                    ["process", "--store", "sqlite:" + os.path.join(self.tmp, "s.db"),
                     "--data", os.path.join(self.tmp, "p")]):
            r = run_cli(*cmd, "--broker", self.mock.uri("Missing"))
            self.assertEqual(r.returncode, 1, r.stderr)
            self.assertIn("Kafka topic Missing does not exist", r.stderr)
            self.assertIn("--create-topic", r.stderr)
            self.assertIn("kafka-topics.sh", r.stderr)
        # --create-topic goes to the admin API; the mock cluster has no
        # controller for CreateTopics, so here it must fail saying so.
        r = run_cli("ingest", "--listen", "127.0.0.1:%d" % free_port(), "--data",
                    os.path.join(self.tmp, "i"), "--broker", self.mock.uri("Missing"),
                    "--create-topic", "3")
        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertIn("creating Kafka topic Missing", r.stderr)

    def test_bad_kafka_settings(self):
        r = run_cli("ingest", "--broker", self.mock.uri(), "--data", self.tmp,
                    "--listen", "127.0.0.1:%d" % free_port(), "--kafka-opt", "acks=1")
        self.assertEqual(r.returncode, 1)
        self.assertIn("acks=all", r.stderr)
        r = run_cli("process", "--broker", self.mock.uri(), "--data", self.tmp,
                    "--kafka-opt", "no.such.setting=1")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no.such.setting", r.stderr)
        r = run_cli("process", "--broker", self.mock.uri(), "--kafka-opt", "nokey")
        self.assertEqual(r.returncode, 2)
        r = run_cli("process", "--data", self.tmp)
        self.assertEqual(r.returncode, 2)
        self.assertIn("--broker is required", r.stderr)
        r = run_cli("process", "--broker", "kafka:nohosts", "--data", self.tmp)
        self.assertEqual(r.returncode, 2)   # a bad flag value (issue 22.6)
        self.assertIn("kafka://HOST:PORT", r.stderr)

    def test_run_all_in_one_with_kafka(self):
        data = os.path.join(self.tmp, "run")
        # (the mock cluster waits out a left member's session before it
        # rebalances, so keep that short)
        extra = ["--broker", self.mock.uri(), *GROUP_OPTS]
        srv = Server(data=data, extra=extra).start()
        try:
            res = [srv.post_json("/orderitem", {"customer_id": c, "source": "Takeaway",
                                                "quantity": c}) for c in range(1, 18)]
            self.assertTrue(all(s == 201 for s, _ in res), res)
            status, body = srv.post_json("/v1/orders", [
                {"customer_id": 2, "source": "Dine In", "quantity": 5, "order_id": "k-1"}])
            self.assertEqual(status, 201, body)
            srv.wait_processed(expect=18)
            total = srv.api_sales()
            self.assertEqual(total["order_count"], 18)
        finally:
            self.assertEqual(srv.stop(), 0, srv.stderr())
        # A restart rebuilds the idempotency index from the topic: the same
        # client key is answered as a duplicate, not appended again.
        srv = Server(data=data, extra=extra).start()
        try:
            self.assertIn("1 order_ids remembered", srv.stderr())
            status, body = srv.post_json("/v1/orders", [
                {"customer_id": 2, "source": "Dine In", "quantity": 5, "order_id": "k-1"}])
            self.assertEqual(status, 201, body)
            self.assertTrue(json.loads(body)["results"][0].get("duplicate"), body)
            status, _ = srv.post_json("/orderitem", {"customer_id": 9, "source": "Dine In",
                                                     "quantity": 1})
            self.assertEqual(status, 201)
            srv.wait_processed(expect=19)
        finally:
            self.assertEqual(srv.stop(), 0, srv.stderr())
        r = kcat("-C", "-b", self.mock.bootstraps, "-t", "Order", "-e", "-f", "%o\n")
        self.assertEqual(len(r.stdout.split()), 19, "the duplicate was not produced")


if __name__ == "__main__":
    unittest.main()
