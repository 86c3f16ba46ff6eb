"""Every request frame the Cassandra sink's CQL client (src/store/cql.c)
sends — OPTIONS, STARTUP, AUTH_RESPONSE, QUERY, PREPARE, EXECUTE and BATCH
with values of every column type the sink binds (uuid, int, text, float,
decimal) — is byte for byte what the DataStax Python driver (Debian's
python3-cassandra) encodes for the same request.

tests/e2e/cqlframes.c prints the frames; it is compiled here from
src/store/cql.c alone."""

import os
import subprocess
import sys
import tempfile
import unittest
import uuid
from decimal import Decimal

sys.path.append("/usr/lib/python3/dist-packages")
from cassandra import ConsistencyLevel  # noqa: E402
from cassandra.auth import PlainTextAuthenticator  # noqa: E402
from cassandra.cqltypes import (DecimalType, FloatType, Int32Type,  # noqa: E402
                                UTF8Type, UUIDType)
from cassandra.protocol import (AuthResponseMessage, BatchMessage,  # noqa: E402
                                ExecuteMessage, OptionsMessage, PrepareMessage,
                                ProtocolHandler, QueryMessage, StartupMessage)
from cassandra.query import BatchType  # noqa: E402

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
V4 = 4


def enc(msg, stream=1):
    return ProtocolHandler.encode_message(msg, stream, V4, None, False)


ID = bytes([0x9f, 0x1c, 0x00, 0x7a, 0x10, 0x22, 0x33, 0x44,
            0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc])
INSERT = ("INSERT INTO order_ks.order_table (uuid, customer_id, source, "
          "quantity, total, created_at) VALUES (?, ?, ?, ?, ?, ?)")
CENTS = [210000, 0, -1, 12345678901234, 128, -129, 1]
SOURCES = ["Dine In", "Takeaway", "Home Delivery", "", "x", "Käse €", "Dine In"]
CUST = [3, 17, -2147483648, 2147483647, 0, 1, 5]
QTY = [7, 1, 1000000, 2, 3, 4, 5]


def row(r, decimal):
    u = uuid.UUID(bytes=bytes((r * 16 + k * 7) & 0xFF for k in range(16)))
    total = (DecimalType.serialize(Decimal(CENTS[r]).scaleb(-2), V4) if decimal
             else FloatType.serialize(CENTS[r] / 100.0, V4))
    return [UUIDType.serialize(u, V4), Int32Type.serialize(CUST[r], V4),
            UTF8Type.serialize(SOURCES[r], V4), Int32Type.serialize(QTY[r], V4),
            total, UTF8Type.serialize("2026-11-29T03:40:00.123Z", V4)]


def expected():
    CL = ConsistencyLevel
    out = {
        "startup": enc(StartupMessage(cqlversion="3.0.0", options={})),
        "options": enc(OptionsMessage()),
        "auth": enc(AuthResponseMessage(
            PlainTextAuthenticator("cassandra", "cassandra").initial_response())),
        "auth_utf8": enc(AuthResponseMessage(
            PlainTextAuthenticator("käthe", "päss word:@/").initial_response()), 7),
        "query": enc(QueryMessage(
            "SELECT column_name, kind, type FROM system_schema.columns WHERE "
            "keyspace_name = 'order_ks' AND table_name = 'order_table'", CL.ONE)),
        "query_ddl": enc(QueryMessage(
            "CREATE KEYSPACE IF NOT EXISTS order_ks WITH replication = "
            "{'class': 'SimpleStrategy', 'replication_factor': 1}", CL.QUORUM)),
        "prepare": enc(PrepareMessage(INSERT)),
    }
    for r in range(len(CENTS)):
        out["execute_float_%d" % r] = enc(ExecuteMessage(ID, row(r, False),
                                                         CL.LOCAL_QUORUM))
        out["execute_decimal_%d" % r] = enc(ExecuteMessage(ID, row(r, True),
                                                           CL.LOCAL_QUORUM))
    n = len(CENTS)
    out["batch_float"] = enc(BatchMessage(
        BatchType.UNLOGGED, [(True, ID, row(r, False)) for r in range(n)],
        CL.LOCAL_QUORUM), 5)
    out["batch_decimal"] = enc(BatchMessage(
        BatchType.UNLOGGED, [(True, ID, row(r, True)) for r in range(n)],
        CL.QUORUM), 64)
    out["batch_one"] = enc(BatchMessage(
        BatchType.UNLOGGED, [(True, ID, row(0, True))], CL.ONE), 2)
    return out


class CqlFrames(unittest.TestCase):
    def test_frames_match_python_driver(self):
        with tempfile.TemporaryDirectory() as tmp:
            exe = os.path.join(tmp, "cqlframes")
            subprocess.run(["cc", "-std=c11", "-D_GNU_SOURCE", "-Wall", "-Wextra",
                            "-Werror", "-I" + os.path.join(ROOT, "src"),
                            os.path.join(ROOT, "tests/e2e/cqlframes.c"),
                            os.path.join(ROOT, "src/store/cql.c"), "-o", exe],
                           check=True)
            got = {}
            for line in subprocess.run([exe], check=True, capture_output=True,
                                       text=True).stdout.splitlines():
                name, hexs = line.split(" ")
                got[name] = bytes.fromhex(hexs)
        want = expected()
        self.assertEqual(sorted(got), sorted(want))
        for name in want:
            with self.subTest(frame=name):
                self.assertEqual(got[name].hex(), want[name].hex())
        # the float rows really differ from the decimal ones
        self.assertNotEqual(got["batch_float"], got["batch_decimal"])


if __name__ == "__main__":
    unittest.main()
