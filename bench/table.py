#!/usr/bin/env python3
"""bench/run's table: reads its key=value results, prints one Markdown table
of every goal (measured, reference from the same run, ratio, met or by how
much missed) and, unless told not to, puts it into docs/BENCHMARKS.md
between the lines "<!-- goals:begin -->" and "<!-- goals:end -->".

  table.py RESULTS BENCHMARKS_MD WRITE(0|1)
"""

import sys
import time


def fields(line):
    return dict(kv.split("=", 1) for kv in line.split())


def num(s):
    return float(s) if s not in (None, "") else float("nan")


def fmt(x, unit=""):
    if x != x:
        return "n/a"
    if abs(x) >= 100:
        return "{:,.0f}{}".format(x, unit)
    return "{:.1f}{}".format(x, unit)


def main():
    res = {}
    with open(sys.argv[1]) as f:
        for line in f:
            k, _, v = line.rstrip("\n").partition("=")
            res[k] = v
    rows = []

    def row(goal, target, measured, reference, ratio, met, miss):
        verdict = "—" if target == "(reported)" else "met" if met else "**missed**: " + miss
        rows.append("| %s | %s | %s | %s | %s | %s |" % (goal, target, measured, reference,
                                                          ratio, verdict))

    sf = res["single_sf"].split()
    ng = res["single_nginx"].split()
    r = num(sf[0]) / num(ng[0])

    def rounds(k):
        v = res.get(k + "_rounds", "").split()
        return "; median of %d rounds: %s" % (len(v), ", ".join(fmt(num(x)) for x in v)) \
            if len(v) > 1 else ""
    row("single-order ingest, `POST /orderitem`, `salesflow ingest --fsync always`, "
        "wrk 32 conns",
        "≥ 0.8 × nginx", "%s req/s (p50 %s ms, p99 %s ms%s)" % (
            fmt(num(sf[0])), sf[1], sf[2], rounds("single_sf")),
        "nginx static 201: %s req/s (p50 %s ms, p99 %s ms%s)" % (
            fmt(num(ng[0])), ng[1], ng[2], rounds("single_nginx")),
        "%.2f×" % r, r >= 0.8, "%.2f× of nginx, goal 0.8× (%.0f %% of the goal)" % (
            r, 100 * r / 0.8))

    nv = res.get("single_never", "").split()
    if nv:
        r = num(nv[0]) / num(ng[0])
        row("same, `--fsync never` (acked after the write: what the fsync costs)",
            "(reported)", "%s req/s (p50 %s ms, p99 %s ms)" % (fmt(num(nv[0])), nv[1], nv[2]),
            "same nginx run", "%.2f×" % r, True, "")

    ru = res["single_run"].split()
    r = num(ru[0]) / num(ng[0])
    row("same, all-in-one `salesflow run` (processor and SQLite on the same cores)",
        "(reported)", "%s req/s (p50 %s ms, p99 %s ms)" % (fmt(num(ru[0])), ru[1], ru[2]),
        "same nginx run", "%.2f×" % r, True, "")

    nd = num(res["ndjson_sf"].split()[0]) * 1000
    ndn = num(res["ndjson_nginx"].split()[0]) * 1000
    row("NDJSON batches of 1,000, `POST /v1/orders`, `salesflow ingest`, durable, "
        "wrk 8 conns", "≥ 1,000,000 orders/s", fmt(nd, " orders/s"),
        "nginx static 201, same body: %s orders/s" % fmt(ndn), "%.3f×" % (nd / ndn),
        nd >= 1e6, "%.2f× of the goal" % (nd / 1e6))
    ndr = num(res["ndjson_run"].split()[0]) * 1000
    row("same, all-in-one `salesflow run`", "(reported)", fmt(ndr, " orders/s"),
        "same nginx run", "%.3f×" % (ndr / ndn), True, "")

    lb, ls, ld = num(res["log_batch"]), num(res["log_single"]), num(res["log_dsync"])
    row("embedded log appends, 64 producers × batches of 1,000, `--fsync always`",
        "≥ 1,000,000 orders/s", fmt(lb, " orders/s"),
        "disk: %s × 4 KiB O_DSYNC writes/s" % fmt(ld), "%.0f orders per write" % (lb / ld),
        lb >= 1e6, "%.2f× of the goal" % (lb / 1e6))
    row("embedded log appends, 64 producers × single orders", "(reported)",
        fmt(ls, " orders/s"), "same disk reference", "%.1f× the write rate" % (ls / ld),
        True, "")

    rp, rr = num(res["replay"]), num(res["replay_ref"])
    row("`salesflow replay` into SQLite", "≥ 1,000,000 orders/s", fmt(rp, " orders/s"),
        "plain prepared INSERT of the same rows: %s rows/s" % fmt(rr), "%.2f×" % (rp / rr),
        rp >= 1e6, "%.2f× of the goal" % (rp / 1e6))
    rc = res.get("replay_ceiling")
    if rc:
        row("SQLite's ceiling: the same rows with no key, no index, no journal, "
            "no sync, one transaction", "(reported)", fmt(num(rc), " rows/s"),
            "same run", "%.2f× of the replay goal" % (num(rc) / 1e6), True, "")

    fr = fields(res["freshness"])
    p99 = num(fr["p99_ms"])
    row("freshness: 201 → order counted in `/api/sales`, %s orders/s" % fmt(num(fr["rate"])),
        "p99 ≤ 100 ms", "p50 %s ms, p99 %s ms (max %s; %s batches, %s unseen)" % (
            fr["p50_ms"], fr["p99_ms"], fr["max_ms"], fr["batches"], fr["unseen"]),
        "original pipeline by design: 15 s trigger + 10 s refresh",
        "%.3f× of the goal" % (p99 / 100), p99 <= 100 and fr["unseen"] == "0",
        "p99 %.0f ms" % p99)

    if res.get("dash_browser"):
        db = fields(res["dash_browser"])
        busy, p95 = num(db.get("busy_pct")), num(db.get("p95_ms"))
        row("dashboard in headless Chromium (1280×800) at %s orders/s: renderer main thread busy "
            "share, p95 task" % fmt(num(db["rate"])),
            "≤ 30 %, ≤ 50 ms", "%s %% busy, p95 task %s ms (max %s ms; %s tasks ≥ 50 ms of %s in %s s; "
            "%s chart redraws/s)" % (db.get("busy_pct"), db.get("p95_ms"), db.get("max_ms"),
                                     db.get("long"), db.get("tasks"), db.get("seconds"),
                                     db.get("draws_per_s")),
            "—", "%.2f× of the busy goal" % (busy / 30), busy <= 30 and p95 <= 50,
            "%.0f %% busy, p95 %.0f ms" % (busy, p95))

    cs, cn = fields(res["cold_sf"]), fields(res["cold_nginx"])
    c = num(cs["median_ms"])
    row("cold start to `/readyz` 200, empty data dir (median of %s)" % cs["runs"],
        "≤ 100 ms", "%s ms (slowest %s ms)" % (cs["median_ms"], cs["max_ms"]),
        "nginx start to its first 200: %s ms" % cn["median_ms"],
        "%.2f×" % (c / num(cn["median_ms"])), c <= 100, "%.0f ms" % c)

    mb = 1024 / 1e6   # kB of /proc to MB (10^6 bytes), the unit of the goals
    ri, rl = num(res["rss_idle_sf"]) * mb, num(res["rss_load_sf"]) * mb
    row("RSS idle (`salesflow run`, 2 s after start)", "≤ 20 MB", fmt(ri, " MB"),
        "nginx (master + 2 workers) idle: %s MB" % fmt(num(res["rss_idle_nginx"]) * mb),
        "%.2f× of the goal" % (ri / 20), ri <= 20, "%.1f MB" % ri)
    row("RSS peak of `salesflow run` under its ingest runs above (VmHWM)", "≤ 64 MB", fmt(rl, " MB"),
        "nginx after the same runs: %s MB" % fmt(num(res["rss_load_nginx"]) * mb),
        "%.2f× of the goal" % (rl / 64), rl <= 64, "%.1f MB" % rl)

    out = ["Run of %s UTC on %s." % (time.strftime("%Y-%m-%d %H:%M", time.gmtime()),
                                        res["machine"]), "",
           "| goal | target | measured | reference (same run) | ratio | verdict |",
           "|---|---|---|---|---|---|"] + rows
    text = "\n".join(out) + "\n"
    print(text)
    if sys.argv[3] != "0":
        with open(sys.argv[2]) as f:
            doc = f.read()
        a, b = "<!-- goals:begin -->\n", "<!-- goals:end -->\n"
        if a not in doc or b not in doc:
            sys.exit("table.py: %s has no goals markers" % sys.argv[2])
        head, rest = doc.split(a, 1)
        _, tail = rest.split(b, 1)
        with open(sys.argv[2], "w") as f:
            f.write(head + a + text + b + tail)
        print("written to %s" % sys.argv[2])


if __name__ == "__main__":
    main()
