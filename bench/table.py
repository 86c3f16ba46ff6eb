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

    def rounds(k, scale=1):
        v = res.get(k + "_rounds", "").split()
        return "; median of %d rounds: %s" % (
            len(v), ", ".join(fmt(num(x) * scale) for x in v)) if len(v) > 1 else ""
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

    cb = res.get("coding_bytes", "").split()
    if cb:
        plain = num(res["coding_plain"].split()[0])
        for name, goal in (("gzip", 0.6), ("zstd", 0.8)):
            v = num(res["coding_" + name].split()[0])
            size = num(cb[1 if name == "gzip" else 2]) / num(cb[0])
            ok = v / plain >= goal and (name != "gzip" or size <= 0.2)
            row("NDJSON batches of 1,000 sent with `Content-Encoding: %s`, `salesflow "
                "ingest`, wrk 8 conns" % name,
                "≥ %.1f× plain%s" % (goal, ", ≤ 0.2× the bytes" if name == "gzip" else ""),
                "%s orders/s (%s bytes a batch, %.3f× plain's%s)" % (
                    fmt(v * 1000), cb[1 if name == "gzip" else 2], size,
                    rounds("coding_" + name, 1000)),
                "the same batch plain: %s orders/s (%s bytes%s)" % (
                    fmt(plain * 1000), cb[0], rounds("coding_plain", 1000)),
                "%.2f×" % (v / plain), ok, "%.2f× of plain" % (v / plain))

    lb, ls, ld = num(res["log_batch"]), num(res["log_single"]), num(res["log_dsync"])
    row("embedded log appends, 64 producers × batches of 1,000, `--fsync always`",
        "≥ 1,000,000 orders/s", fmt(lb, " orders/s"),
        "disk: %s × 4 KiB O_DSYNC writes/s" % fmt(ld), "%.0f orders per write" % (lb / ld),
        lb >= 1e6, "%.2f× of the goal" % (lb / 1e6))
    row("embedded log appends, 64 producers × single orders", "(reported)",
        fmt(ls, " orders/s"), "same disk reference", "%.1f× the write rate" % (ls / ld),
        True, "")

    rp, rr = num(res["replay"]), num(res["replay_ref"])
    rc = num(res.get("replay_ceiling"))
    r = rp / rc
    row("`salesflow replay` of %s orders into a new SQLite store" % fmt(num(res.get("replay_n"))),
        "≥ 0.6 × SQLite's ceiling", "%s orders/s%s" % (fmt(rp), rounds("replay")),
        "SQLite's ceiling: the same rows (text uuid and time) with no key, no index, no "
        "journal, no sync, one transaction: %s rows/s%s" % (fmt(rc), rounds("replay_ceiling")),
        "%.2f×" % r, r >= 0.6, "%.2f× of the ceiling, goal 0.6×" % r)
    row("same, against a plain prepared INSERT OR IGNORE of the same rows (text key, WAL)",
        "(reported)", fmt(rp, " orders/s"), "%s rows/s" % fmt(rr), "%.2f×" % (rp / rr),
        True, "")
    rcpu = res.get("replay_cpu")
    if rcpu:
        row("replay's CPU per order (user + sys of the process, median round)", "(reported)",
            "%s µs%s" % (rcpu, rounds("replay_cpu")), "—", "—", True, "")

    def alt(k):
        return [num(x) for x in res.get(k, "").split()]

    def median(v):
        v = sorted(v)
        return v[len(v) // 2] if v else float("nan")
    ndi, ndr2 = alt("alt_nd_ing"), alt("alt_nd_run")
    if ndi and ndr2:
        ratios = [b / a for a, b in zip(ndi, ndr2)]
        r = median(ratios)
        row("`salesflow run` NDJSON batches of 1,000 (wrk 8 conns), against `salesflow "
            "ingest` alone, alternating rounds", "≥ 0.9 × ingest (median round)",
            "%s orders/s (rounds: %s)" % (fmt(median(ndr2) * 1000),
                                           ", ".join(fmt(x * 1000) for x in ndr2)),
            "ingest alone: %s orders/s (rounds: %s)" % (
                fmt(median(ndi) * 1000), ", ".join(fmt(x * 1000) for x in ndi)),
            "%.2f× (rounds: %s)" % (r, ", ".join("%.2f" % x for x in ratios)), r >= 0.9,
            "%.2f× of ingest, goal 0.9×" % r)
    si, sr = alt("alt_s_ing"), alt("alt_s_run")
    if si and sr:
        ratios = [b / a for a, b in zip(si, sr)]
        r = median(ratios)
        row("`salesflow run` single orders (wrk 32 conns), against `salesflow ingest` alone, "
            "alternating rounds", "≥ 0.95 × ingest (median round)",
            "%s req/s (rounds: %s)" % (fmt(median(sr)), ", ".join(fmt(x) for x in sr)),
            "ingest alone: %s req/s (rounds: %s)" % (
                fmt(median(si)), ", ".join(fmt(x) for x in si)),
            "%.2f× (rounds: %s)" % (r, ", ".join("%.2f" % x for x in ratios)), r >= 0.95,
            "%.2f× of ingest, goal 0.95×" % r)
    lc = alt("alt_cpu")
    if lc:
        row("live store's CPU per order: `run`'s processor thread (decode + SQLite) over "
            "each NDJSON round and its catch-up", "(reported)",
            "%.2f µs (rounds: %s)" % (median(lc), ", ".join("%.2f" % x for x in lc)),
            "replay: %s µs" % res.get("replay_cpu", "n/a"), "—", True, "")

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
    fm = [x for x in res.get("fresh_max", "").split(";") if x]
    if fm:
        ok = [fields(x) for x in fm]
        good = [f for f in ok if num(f["p99_ms"]) <= 1000 and f["unseen"] == "0"
                and num(f["rate"]) >= 0.9 * num(f["target"])]
        best = good[-1] if good else None
        row("the highest rate at which `run` keeps freshness p99 ≤ 1 s (rates tried: %s)" %
            ", ".join(fmt(num(f["target"])) for f in ok), "(reported)",
            ("%s orders/s sent (p50 %s ms, p99 %s ms)" % (fmt(num(best["rate"])),
                                                           best["p50_ms"], best["p99_ms"])
             if best else "none of the rates"),
            "; ".join("%s/s: p99 %s ms, sent %s/s, %s unseen" % (
                fmt(num(f["target"])), f["p99_ms"], fmt(num(f["rate"])), f["unseen"])
                for f in ok), "—", True, "")
    rl = max(rl, num(res.get("rss_alt_run", "0")) * mb, num(res.get("rss_fresh_run", "0")) * mb)
    row("RSS peak of `salesflow run` under the loads above (VmHWM, the largest of its runs)",
        "≤ 64 MB", fmt(rl, " MB"),
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
