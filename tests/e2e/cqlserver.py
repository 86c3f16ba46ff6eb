"""A CQL test server for salesflow's Cassandra raw-order sink, written from
the CQL native protocol v4 specification (doc/native_protocol_v4.spec in
apache/cassandra). It is not Cassandra: it answers the requests the sink
sends the way a Cassandra node does, keeps its tables in memory and in a
file (so a killed and restarted server still has them), and injects faults
on command.

Run: python3 cqlserver.py --port P --state FILE [--auth USER:PASS]
     [--no-create] [--table "KS.T:uuid uuid,customer_id int,…"] [--control PORT]
     [--count-only]

Speaks (section numbers of the spec):
  OPTIONS → SUPPORTED (4.2.4); STARTUP → READY, or AUTHENTICATE
  (PasswordAuthenticator) then AUTH_RESPONSE (SASL PLAIN) → AUTH_SUCCESS or
  ERROR Bad credentials (4.1.1, 4.1.2, 4.2.3, 4.2.8);
  QUERY (4.1.4) of system_schema.keyspaces/columns → RESULT Rows,
  CREATE KEYSPACE/TABLE IF NOT EXISTS → RESULT Schema_change (or
  Unauthorized with --no-create);
  PREPARE (4.1.5) of an INSERT → RESULT Prepared with bind metadata;
  EXECUTE (4.1.6) and BATCH (4.1.7) → RESULT Void, or ERROR Unprepared for
  an unknown id; values decoded by type (section 6: uuid, int, text, float,
  double, decimal).

Faults, by line commands on the control port (one reply line each):
  slow MS            answer every request MS later
  fail CODE N        answer the next N EXECUTE/BATCH with ERROR CODE
                     (0x1100 WRITE_TIMEOUT, 0x1000 UNAVAILABLE, 0x1001
                     OVERLOADED, 0x0000 server error) without applying them
  forget             forget every prepared statement (→ UNPREPARED)
  die_after N        apply the next N BATCH frames, then exit at once
                     (os._exit) before answering the last one
  stall OPS|off      never answer the requests of these opcodes (comma-
                     separated names: QUERY, PREPARE, EXECUTE, BATCH); send
                     an EVENT frame (stream -1) and a RESULT on an unused
                     stream id every second instead, until the client
                     closes the connection (--stall OPS: from the start)
  rows               JSON {uuid: [customer_id, source, quantity, total,
                     created_at, writes]} of every table row
  stats              JSON counters and this process's CPU seconds
"""

import argparse
import hashlib
import json
import os
import socket
import struct
import sys
import threading
import time
import uuid as uuidmod
from decimal import Decimal

TYPES = {"uuid": 0x000C, "int": 0x0009, "text": 0x000D, "varchar": 0x000D,
         "float": 0x0008, "double": 0x0007, "decimal": 0x0006, "bigint": 0x0002}
OP = dict(ERROR=0x00, STARTUP=0x01, READY=0x02, AUTHENTICATE=0x03, OPTIONS=0x05,
          SUPPORTED=0x06, QUERY=0x07, RESULT=0x08, PREPARE=0x09, EXECUTE=0x0A,
          EVENT=0x0C, BATCH=0x0D, AUTH_RESPONSE=0x0F, AUTH_SUCCESS=0x10)


def s_string(s):
    b = s.encode()
    return struct.pack(">H", len(b)) + b


def s_int(v):
    return struct.pack(">i", v)


def s_bytes(b):
    return struct.pack(">i", -1) if b is None else struct.pack(">i", len(b)) + b


def varint_dec(b):
    return int.from_bytes(b, "big", signed=True) if b else 0


class State:
    def __init__(self, path, no_create, tables):
        self.lock = threading.Lock()
        self.path = path
        self.no_create = no_create
        self.count_only = False
        self.keyspaces = set()
        self.tables = {}        # (ks, t) -> [(name, type, kind)]
        self.rows = {}          # (ks, t) -> {uuid: [..., writes]}
        self.prepared = {}      # id -> (ks, t, [colnames])
        self.slow_ms = 0
        self.fail = []          # [code, remaining]
        self.die_after = None
        self.stall = set()      # opcodes never answered
        self.stats = {"batches": 0, "executes": 0, "row_writes": 0, "errors_sent": 0,
                      "unprepared_sent": 0, "connections": 0, "frames": 0}
        for spec in tables:
            name, cols = spec.split(":", 1)
            ks, t = name.split(".")
            self.keyspaces.add(ks)
            clist = []
            for i, c in enumerate(cols.split(",")):
                cn, ct = c.strip().split()
                clist.append((cn, ct, "partition_key" if i == 0 else "regular"))
            self.tables[(ks, t)] = clist
            self.rows[(ks, t)] = {}
        self.load()
        self.log = open(path, "a") if path else None

    def load(self):
        if not self.path or not os.path.exists(self.path):
            return
        with open(self.path) as f:
            for line in f:
                try:
                    e = json.loads(line)
                except ValueError:
                    continue    # a line cut by a kill
                if e[0] == "ks":
                    self.keyspaces.add(e[1])
                elif e[0] == "table":
                    self.tables[(e[1], e[2])] = [tuple(c) for c in e[3]]
                    self.rows.setdefault((e[1], e[2]), {})
                elif e[0] == "rows":
                    tab = self.rows.setdefault((e[1], e[2]), {})
                    for r in e[3]:
                        old = tab.get(r[0])
                        tab[r[0]] = r[1:] + [(old[-1] if old else 0) + 1]

    def record(self, entry):
        if self.log:
            self.log.write(json.dumps(entry) + "\n")
            self.log.flush()


class ProtocolError(Exception):
    pass


class Conn(threading.Thread):
    def __init__(self, st, sock, auth):
        super().__init__(daemon=True)
        self.st, self.sock, self.auth = st, sock, auth
        self.ready = False
        self.user = None

    def send(self, stream, op, body):
        self.sock.sendall(struct.pack(">BBhBi", 0x84, 0, stream, op, len(body)) + body)

    def error(self, stream, code, msg, extra=b""):
        with self.st.lock:
            self.st.stats["errors_sent"] += 1
        self.send(stream, OP["ERROR"], s_int(code) + s_string(msg) + extra)

    def recv_exact(self, n):
        buf = bytearray()
        while len(buf) < n:
            b = self.sock.recv(n - len(buf))
            if not b:
                raise EOFError
            buf += b
        return bytes(buf)

    def run(self):
        try:
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            f = self.sock.makefile("rb", buffering=1 << 20)
            while True:
                h = f.read(9)
                if len(h) < 9:
                    return
                ver, flags, stream, op, length = struct.unpack(">BBhBi", h)
                body = f.read(length)
                if len(body) < length:
                    return
                if ver != 0x04:
                    # spec 2.1: answer with the version the server supports
                    self.sock.sendall(struct.pack(">BBhBi", 0x84, 0, stream, 0, 0))
                    self.error(stream, 0x000A, "Invalid or unsupported protocol "
                               "version (%d); supported versions are (4/v4)" % ver)
                    continue
                if flags & 0x01:
                    self.error(stream, 0x000A, "compression was not negotiated")
                    continue
                with self.st.lock:
                    self.st.stats["frames"] += 1
                    slow = self.st.slow_ms
                if slow:
                    time.sleep(slow / 1000.0)
                self.handle(stream, op, body)
        except (EOFError, ConnectionError, OSError):
            pass
        finally:
            try:
                self.sock.close()
            except OSError:
                pass

    def handle(self, stream, op, body):
        if op == OP["OPTIONS"]:
            mm = struct.pack(">H", 2) + s_string("CQL_VERSION") + struct.pack(">H", 1) + \
                s_string("3.4.5") + s_string("COMPRESSION") + struct.pack(">H", 0)
            return self.send(stream, OP["SUPPORTED"], mm)
        if op == OP["STARTUP"]:
            n = struct.unpack(">H", body[:2])[0]
            off, opts = 2, {}
            for _ in range(n):
                kl = struct.unpack(">H", body[off:off + 2])[0]
                k = body[off + 2:off + 2 + kl].decode()
                off += 2 + kl
                vl = struct.unpack(">H", body[off:off + 2])[0]
                opts[k] = body[off + 2:off + 2 + vl].decode()
                off += 2 + vl
            if "CQL_VERSION" not in opts:
                return self.error(stream, 0x000A, "Missing value CQL_VERSION in STARTUP "
                                  "message")
            if self.auth:
                return self.send(stream, OP["AUTHENTICATE"], s_string(
                    "org.apache.cassandra.auth.PasswordAuthenticator"))
            self.ready = True
            return self.send(stream, OP["READY"], b"")
        if op == OP["AUTH_RESPONSE"]:
            n = struct.unpack(">i", body[:4])[0]
            tok = body[4:4 + n] if n >= 0 else b""
            parts = tok.split(b"\x00")
            if len(parts) == 3 and (parts[1].decode(errors="replace"),
                                    parts[2].decode(errors="replace")) == self.auth:
                self.ready = True
                self.user = parts[1].decode()
                return self.send(stream, OP["AUTH_SUCCESS"], s_bytes(None))
            return self.error(stream, 0x0100, "Provided username %s and/or password are "
                              "incorrect" % (parts[1].decode(errors="replace")
                                             if len(parts) > 1 else "?"))
        if not self.ready:
            return self.error(stream, 0x000A, "Unexpected message %d, expecting STARTUP "
                              "or AUTH_RESPONSE" % op)
        with self.st.lock:
            stalled = op in self.st.stall
        if stalled:
            return self.stall_with_strays()
        if op == OP["QUERY"]:
            return self.query(stream, body)
        if op == OP["PREPARE"]:
            return self.prepare(stream, body)
        if op in (OP["EXECUTE"], OP["BATCH"]):
            return self.write(stream, op, body)
        return self.error(stream, 0x000A, "unknown opcode %d" % op)

    def stall_with_strays(self):
        """Never answer; every second an EVENT (STATUS_CHANGE UP, stream -1)
        and a RESULT Void on a stream id no request uses."""
        ev = s_string("STATUS_CHANGE") + s_string("UP") + bytes([4, 127, 0, 0, 1]) + \
            s_int(9042)
        while True:
            time.sleep(1)
            self.send(-1, OP["EVENT"], ev)
            self.send(30000, OP["RESULT"], s_int(1))

    # -- QUERY --------------------------------------------------------------

    def rows_result(self, ks, table, cols, rows):
        b = s_int(2) + s_int(0x0001) + s_int(len(cols)) + s_string(ks) + s_string(table)
        for c in cols:
            b += s_string(c) + struct.pack(">H", 0x000D)
        b += s_int(len(rows))
        for r in rows:
            for v in r:
                b += s_bytes(v.encode())
        return b

    def query(self, stream, body):
        n = struct.unpack(">i", body[:4])[0]
        q = body[4:4 + n].decode()
        words = q.replace("(", " ( ").replace(")", " ) ").replace(",", " , ").split()
        lw = [w.lower() for w in words]
        st = self.st
        if q.startswith("SELECT keyspace_name FROM system_schema.keyspaces WHERE "
                        "keyspace_name = '"):
            ks = q.split("'")[1]
            with st.lock:
                rows = [[ks]] if ks in st.keyspaces else []
            return self.send(stream, OP["RESULT"], self.rows_result(
                "system_schema", "keyspaces", ["keyspace_name"], rows))
        if q.startswith("SELECT column_name, kind, type FROM system_schema.columns WHERE "
                        "keyspace_name = '"):
            parts = q.split("'")
            ks, t = parts[1], parts[3]
            with st.lock:
                cols = st.tables.get((ks, t), [])
            return self.send(stream, OP["RESULT"], self.rows_result(
                "system_schema", "columns", ["column_name", "kind", "type"],
                [[c[0], c[2], c[1]] for c in cols]))
        if lw[:5] == ["create", "keyspace", "if", "not", "exists"]:
            ks = words[5]
            if st.no_create:
                return self.error(stream, 0x2100, "User %s has no CREATE permission on "
                                  "<all keyspaces> or any of its parents" % self.user)
            with st.lock:
                new = ks not in st.keyspaces
                st.keyspaces.add(ks)
                st.record(["ks", ks])
            return self.send(stream, OP["RESULT"], s_int(5) + s_string(
                "CREATED" if new else "UPDATED") + s_string("KEYSPACE") + s_string(ks))
        if lw[:5] == ["create", "table", "if", "not", "exists"]:
            ks, t = words[5].split(".")
            if st.no_create:
                return self.error(stream, 0x2100, "User %s has no CREATE permission on "
                                  "<keyspace %s> or any of its parents" % (self.user, ks))
            inner = q[q.index("(") + 1:q.rindex(")")]
            cols = []
            for c in inner.split(","):
                p = c.split()
                cols.append((p[0], p[1], "partition_key" if "PRIMARY" in p else "regular"))
            with st.lock:
                if ks not in st.keyspaces:
                    return self.error(stream, 0x2300, "Cannot add table '%s' to "
                                      "non existing keyspace '%s'." % (t, ks))
                if (ks, t) not in st.tables:
                    st.tables[(ks, t)] = cols
                    st.rows[(ks, t)] = {}
                    st.record(["table", ks, t, cols])
            return self.send(stream, OP["RESULT"], s_int(5) + s_string("CREATED") +
                             s_string("TABLE") + s_string(ks) + s_string(t))
        return self.error(stream, 0x2000, "line 1:0 no viable alternative at input "
                          "'%s' (this test server knows few statements)" % words[0])

    # -- PREPARE ------------------------------------------------------------

    def prepare(self, stream, body):
        n = struct.unpack(">i", body[:4])[0]
        q = body[4:4 + n].decode()
        w = q.replace("(", " ( ").replace(")", " ) ").replace(",", " ").split()
        if [x.lower() for x in w[:2]] != ["insert", "into"]:
            return self.error(stream, 0x2000, "only INSERT can be prepared here")
        ks, t = w[2].split(".")
        names = w[w.index("(") + 1:w.index(")")]
        st = self.st
        with st.lock:
            if ks not in st.keyspaces:
                return self.error(stream, 0x2200, "Keyspace %s does not exist" % ks)
            cols = st.tables.get((ks, t))
            if cols is None:
                return self.error(stream, 0x2200, "unconfigured table %s" % t)
            types = {c[0]: c[1] for c in cols}
            for nm in names:
                if nm not in types:
                    return self.error(stream, 0x2200, "Undefined column name %s" % nm)
            qid = hashlib.md5(q.encode()).digest()
            st.prepared[qid] = (ks, t, names)
        pk = [i for i, nm in enumerate(names) if nm == cols[0][0]]
        b = s_int(4) + struct.pack(">H", len(qid)) + qid
        b += s_int(0x0001) + s_int(len(names)) + s_int(len(pk))
        for i in pk:
            b += struct.pack(">H", i)
        b += s_string(ks) + s_string(t)
        for nm in names:
            b += s_string(nm) + struct.pack(">H", TYPES[types[nm]])
        b += s_int(0x0004) + s_int(0)      # result metadata: No_metadata
        self.send(stream, OP["RESULT"], b)

    # -- EXECUTE / BATCH ----------------------------------------------------

    def decode(self, ctype, v):
        if v is None:
            return None
        if ctype == "uuid":
            if len(v) != 16:
                raise ProtocolError("uuid of %d bytes" % len(v))
            return str(uuidmod.UUID(bytes=v))
        if ctype == "int":
            if len(v) != 4:
                raise ProtocolError("int of %d bytes" % len(v))
            return struct.unpack(">i", v)[0]
        if ctype in ("text", "varchar"):
            return v.decode("utf-8")
        if ctype == "float":
            return struct.unpack(">f", v)[0]
        if ctype == "double":
            return struct.unpack(">d", v)[0]
        if ctype == "decimal":
            scale = struct.unpack(">i", v[:4])[0]
            return str(Decimal(varint_dec(v[4:])).scaleb(-scale))
        if ctype == "bigint":
            return struct.unpack(">q", v)[0]
        raise ProtocolError("type %s" % ctype)

    def params(self, body, off, nvalues=None):
        """Values of one statement: returns (values, new offset)."""
        if nvalues is None:
            nvalues = struct.unpack_from(">H", body, off)[0]
            off += 2
        vals = []
        for _ in range(nvalues):
            ln = struct.unpack_from(">i", body, off)[0]
            off += 4
            if ln < 0:
                vals.append(None)
            else:
                vals.append(body[off:off + ln])
                off += ln
        return vals, off

    def count_only(self, stream, op, body):
        """--count-only (bench/cassandra.py): a BATCH is counted by its
        statement count and answered Void, values not decoded or kept."""
        st = self.st
        n = struct.unpack_from(">H", body, 1)[0] if op == OP["BATCH"] else 1
        with st.lock:
            st.stats["row_writes"] += n
            st.stats["batches" if op == OP["BATCH"] else "executes"] += 1
        self.send(stream, OP["RESULT"], s_int(1))

    def write(self, stream, op, body):
        st = self.st
        if st.count_only:
            return self.count_only(stream, op, body)
        stmts = []
        if op == OP["EXECUTE"]:
            idl = struct.unpack_from(">H", body, 0)[0]
            qid = body[2:2 + idl]
            off = 2 + idl
            cl, flags = struct.unpack_from(">HB", body, off)
            off += 3
            vals = []
            if flags & 0x01:
                vals, off = self.params(body, off)
            stmts.append((qid, vals))
        else:
            btype, n = struct.unpack_from(">BH", body, 0)
            off = 3
            if btype != 1:
                return self.error(stream, 0x000A, "this test server takes UNLOGGED "
                                  "batches only")
            for _ in range(n):
                kind = body[off]
                if kind != 1:
                    return self.error(stream, 0x000A, "query strings in BATCH not "
                                      "supported here")
                idl = struct.unpack_from(">H", body, off + 1)[0]
                qid = body[off + 3:off + 3 + idl]
                vals, off = self.params(body, off + 3 + idl)
                stmts.append((qid, vals))
            cl, flags = struct.unpack_from(">HB", body, off)
            off += 3
        if off != len(body):
            return self.error(stream, 0x000A, "%d bytes left over in the frame" %
                              (len(body) - off))
        with st.lock:
            for qid, _ in stmts:
                if qid not in st.prepared:
                    st.stats["unprepared_sent"] += 1
                    break
            else:
                qid = None
            if qid is not None:
                pass
            elif st.fail and st.fail[1] > 0:
                code = st.fail[0]
                st.fail[1] -= 1
                if st.fail[1] == 0:
                    st.fail = []
            else:
                code = None
        if qid is not None:
            return self.error(stream, 0x2500, "Prepared query with ID %s not found "
                              "(either the query was not prepared on this host (maybe "
                              "the host has been restarted?) or you have prepared too "
                              "many queries and it has been evicted from the internal "
                              "cache)" % qid.hex(), struct.pack(">H", len(qid)) + qid)
        if code is not None:
            if code == 0x1100:
                extra = struct.pack(">H", cl) + s_int(0) + s_int(2) + \
                    s_string("UNLOGGED_BATCH" if op == OP["BATCH"] else "SIMPLE")
                return self.error(stream, code, "Operation timed out - received only 0 "
                                  "responses.", extra)
            if code == 0x1000:
                return self.error(stream, code, "Cannot achieve consistency level",
                                  struct.pack(">H", cl) + s_int(2) + s_int(1))
            if code == 0x1001:
                return self.error(stream, code, "Server is in overloaded state. Cannot "
                                  "accept more requests at this point")
            return self.error(stream, code, "injected error")
        try:
            decoded = []
            with st.lock:
                for qid, vals in stmts:
                    ks, t, names = st.prepared[qid]
                    types = {c[0]: c[1] for c in st.tables[(ks, t)]}
                    if len(vals) != len(names):
                        raise ProtocolError("There were %d markers(?) in CQL but %d bound "
                                            "variables" % (len(names), len(vals)))
                    decoded.append((ks, t, {nm: self.decode(types[nm], v)
                                            for nm, v in zip(names, vals)}))
        except (ProtocolError, struct.error, UnicodeDecodeError) as e:
            return self.error(stream, 0x2200, "Invalid value: %s" % e)
        with st.lock:
            per_table = {}
            for ks, t, row in decoded:
                key = row["uuid"]
                rec = [row.get("customer_id"), row.get("source"), row.get("quantity"),
                       row.get("total"), row.get("created_at")]
                tab = st.rows[(ks, t)]
                old = tab.get(key)
                tab[key] = rec + [(old[-1] if old else 0) + 1]
                per_table.setdefault((ks, t), []).append([key] + rec)
                st.stats["row_writes"] += 1
            for (ks, t), rows in per_table.items():
                st.record(["rows", ks, t, rows])
            st.stats["batches" if op == OP["BATCH"] else "executes"] += 1
            if st.die_after is not None:
                st.die_after -= 1
                if st.die_after <= 0:
                    os._exit(9)     # applied, never answered: a crash mid-stream
        self.send(stream, OP["RESULT"], s_int(1))


def control(st, port):
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(8)
    while True:
        c, _ = srv.accept()
        threading.Thread(target=control_conn, args=(st, c), daemon=True).start()


def control_conn(st, c):
    f = c.makefile("rw")
    for line in f:
        w = line.split()
        if not w:
            continue
        out = "ok"
        with st.lock:
            if w[0] == "slow":
                st.slow_ms = int(w[1])
            elif w[0] == "fail":
                st.fail = [int(w[1], 0), int(w[2])]
            elif w[0] == "forget":
                st.prepared.clear()
            elif w[0] == "die_after":
                st.die_after = int(w[1])
            elif w[0] == "stall":
                st.stall = set() if w[1] == "off" else \
                    {OP[o] for o in w[1].split(",")}
            elif w[0] == "rows":
                out = json.dumps({"%s.%s" % k: v for k, v in st.rows.items()})
            elif w[0] == "stats":
                t = os.times()
                s = dict(st.stats, cpu_s=t.user + t.system,
                         keyspaces=sorted(st.keyspaces),
                         tables={"%s.%s" % k: v for k, v in st.tables.items()})
                out = json.dumps(s)
            else:
                out = "unknown command"
        f.write(out + "\n")
        f.flush()
    c.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--control", type=int, required=True)
    ap.add_argument("--state", default=None)
    ap.add_argument("--auth", default=None, help="USER:PASS")
    ap.add_argument("--no-create", action="store_true")
    ap.add_argument("--table", action="append", default=[])
    ap.add_argument("--count-only", action="store_true",
                    help="count BATCH rows without decoding or keeping them (bench)")
    ap.add_argument("--stall", default=None,
                    help="OPS: never answer these requests (see stall above)")
    a = ap.parse_args()
    st = State(a.state, a.no_create, a.table)
    if a.stall:
        st.stall = {OP[o] for o in a.stall.split(",")}
    st.count_only = a.count_only
    auth = tuple(a.auth.split(":", 1)) if a.auth else None
    threading.Thread(target=control, args=(st, a.control), daemon=True).start()
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", a.port))
    srv.listen(64)
    print("ready", flush=True)
    while True:
        c, _ = srv.accept()
        with st.lock:
            st.stats["connections"] += 1
        Conn(st, c, auth).start()


if __name__ == "__main__":
    sys.exit(main())
