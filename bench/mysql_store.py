"""MySQL store benchmark (issue 5): orders/s the processor sustains into
MariaDB — raw rows + sales + sales_minute + positions, one transaction per
batch — against a plain bulk INSERT of the same raw rows into the same
`orders` table shape, measured in the same run on the same private server.

Run through bench/mysql_store.sh (builds what it needs). Environment:
  ORDERS   orders in the log (default 200000)
  ROUNDS   measurements of each side, alternating; the median is reported (3)
  SALESFLOW_BIN, LOG_FILL  the binaries (default build/salesflow, build/bench/log_fill)

The log is filled once (build/bench/log_fill: 4 partitions, the original
producer's distribution). Then, per round, on a fresh database each time:
  processor  `salesflow run --data LOG --store mysql://…/db` starts from
             offset 0 and works through the whole log; timed from its first
             commit to the commit that stores the last position (polled in
             salesflow_offsets every 20 ms), so process start-up and schema
             creation are not counted.
  reference  the rows the processor wrote, dumped with the mariadb client,
             replayed as INSERT statements of 5,000 rows each (the
             processor's batch limit), autocommit, into a table created
             LIKE orders, through `mariadb` over the same TCP port; timed
             around the client.
Both sides run with the same server settings, durable commits
(innodb_flush_log_at_trx_commit=1).
"""

import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
import mariadb  # noqa: E402

BIN = os.path.abspath(os.environ.get("SALESFLOW_BIN", os.path.join(ROOT, "build/salesflow")))
LOG_FILL = os.path.abspath(os.environ.get("LOG_FILL", os.path.join(ROOT, "build/bench/log_fill")))
ORDERS = int(os.environ.get("ORDERS", "200000"))
ROUNDS = int(os.environ.get("ROUNDS", "3"))
CHUNK = 5000


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_s(pid):
    """user + system CPU seconds a process has used so far."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def status(db, name):
    return int(db.sql("SHOW GLOBAL STATUS LIKE '%s'" % name)[0][1])


def run_processor(db, data, name):
    db.create_db(name)
    commits0 = status(db, "Com_commit")
    server_cpu0 = cpu_s(db.proc.pid)
    port = free_port()
    log = open(os.path.join(data, "..", name + ".log"), "w")
    p = subprocess.Popen([BIN, "run", "--listen", "127.0.0.1:%d" % port, "--data", data,
                          "--store", db.uri(name)], stdout=log, stderr=log, cwd=ROOT)
    first = first_n = None
    try:
        deadline = time.time() + 3600
        while time.time() < deadline:
            if p.poll() is not None:
                raise RuntimeError("salesflow exited: see %s" % log.name)
            try:
                r = db.sql("SELECT COALESCE(SUM(next_offset), 0) FROM salesflow_offsets",
                           db=name)
                done = int(r[0][0])
            except RuntimeError:
                done = 0  # tables not created yet
            now = time.time()
            if done and first is None:
                first, first_n = now, done
            if done >= ORDERS:
                break
            time.sleep(0.02)
        else:
            raise RuntimeError("processor did not finish")
        client_cpu, server_cpu = cpu_s(p.pid), cpu_s(db.proc.pid) - server_cpu0
    finally:
        p.terminate()
        p.wait(60)
        log.close()
    commits = status(db, "Com_commit") - commits0
    rows = int(db.sql("SELECT COUNT(*) FROM orders", db=name)[0][0])
    assert rows == ORDERS, (rows, ORDERS)
    return ((ORDERS - first_n) / (now - first), commits,
            (client_cpu / ORDERS * 1e6, server_cpu / ORDERS * 1e6))


def dump_insert_sql(db, name, path):
    """The processor's rows as INSERT statements of CHUNK rows."""
    rows = db.sql("SELECT uuid, customer_id, source, quantity, total, created_at, state"
                  " FROM orders", db=name)
    with open(path, "w") as f:
        for i in range(0, len(rows), CHUNK):
            vals = ",".join("('%s',%s,'%s',%s,%s,'%s','%s')" % r for r in rows[i:i + CHUNK])
            f.write("INSERT INTO orders (uuid, customer_id, source, quantity, total,"
                    " created_at, state) VALUES %s;\n" % vals)
    return len(rows)


def run_reference(db, like, sql_path, name):
    db.create_db(name)
    db.sql("CREATE TABLE orders LIKE `%s`.orders" % like, db=name)
    server_cpu0 = cpu_s(db.proc.pid)
    with open(sql_path) as f:
        t0 = time.time()
        c = subprocess.Popen([mariadb.CLIENT, "--no-defaults", "-h", "127.0.0.1",
                              "-P", str(db.port), "-usf", "-p" + mariadb.SF_PASSWORD, name],
                             stdin=f)
        _, status_, ru = os.wait4(c.pid, 0)
        dt = time.time() - t0
        c.returncode = os.waitstatus_to_exitcode(status_)
    assert c.returncode == 0, c.returncode
    cpu = (ru.ru_utime + ru.ru_stime, cpu_s(db.proc.pid) - server_cpu0)
    rows = int(db.sql("SELECT COUNT(*) FROM orders", db=name)[0][0])
    assert rows == ORDERS, (rows, ORDERS)
    return ORDERS / dt, (cpu[0] / ORDERS * 1e6, cpu[1] / ORDERS * 1e6)


def machine():
    cpu = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2 ** 30
    return "%d vCPU (%s), %.0f GiB RAM, %s" % (os.cpu_count(), cpu, mem, os.uname().release)


def main():
    ok, why = mariadb.available()
    if not ok:
        sys.exit("bench: " + why)
    load0 = " ".join(open("/proc/loadavg").read().split()[:3])
    tmp = tempfile.mkdtemp(prefix="sf-bench-mysql-")
    data = os.path.join(tmp, "data")
    t0 = time.time()
    subprocess.run([LOG_FILL, data, str(ORDERS)], check=True, stdout=subprocess.DEVNULL)
    print("log: %d orders written in %.1f s" % (ORDERS, time.time() - t0), flush=True)
    db = mariadb.MariaDB(extra_args=["--innodb-buffer-pool-size=1G",
                                     "--innodb-log-file-size=512M"]).start()
    try:
        version = db.sql("SELECT VERSION()")[0][0]
        proc, ref, batches, pcpu, rcpu = [], [], [], [], []
        sql_path = os.path.join(tmp, "insert.sql")
        for r in range(ROUNDS):
            rate, commits, cpu = run_processor(db, data, "proc_%d" % r)
            proc.append(rate)
            batches.append(commits)
            pcpu.append(cpu)
            print("round %d: processor %.0f orders/s (%d transactions, %.0f orders each;"
                  " CPU µs/order: salesflow %.1f, mariadbd %.1f)"
                  % (r + 1, rate, commits, ORDERS / max(commits, 1), *cpu), flush=True)
            if r == 0:
                dump_insert_sql(db, "proc_0", sql_path)
            rate, cpu = run_reference(db, "proc_0", sql_path, "ref_%d" % r)
            ref.append(rate)
            rcpu.append(cpu)
            print("round %d: bulk INSERT %.0f rows/s (CPU µs/row: client %.1f, mariadbd %.1f)"
                  % (r + 1, rate, *cpu), flush=True)
        p, q = statistics.median(proc), statistics.median(ref)
        print()
        print("MariaDB %s; %s; load average before: %s" % (version, machine(), load0))
        print("orders: %d; rounds: %d" % (ORDERS, ROUNDS))
        med = lambda xs, i: statistics.median(x[i] for x in xs)  # noqa: E731
        print("processor into MariaDB: median %.0f, best %.0f orders/s (%.0f orders per"
              " transaction); CPU µs/order: salesflow %.1f, mariadbd %.1f"
              % (p, max(proc), ORDERS / statistics.median(batches), med(pcpu, 0),
                 med(pcpu, 1)))
        print("reference bulk INSERT:  median %.0f, best %.0f rows/s; CPU µs/row: client"
              " %.1f, mariadbd %.1f" % (q, max(ref), med(rcpu, 0), med(rcpu, 1)))
        print("ratio: median %.2f, best %.2f (target >= 0.7)" % (p / q, max(proc) / max(ref)))
    finally:
        db.stop()
        subprocess.run(["rm", "-rf", tmp])


if __name__ == "__main__":
    main()
