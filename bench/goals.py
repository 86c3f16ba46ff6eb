#!/usr/bin/env python3
"""Measurements for bench/run that need a client with a clock: every one
prints a single line of "key=value" pairs for bench/run to read.

  goals.py freshness URL RATE SECONDS
      POSTs NDJSON batches to URL/v1/orders at RATE orders/s (batches of
      RATE/100, every 10 ms) while polling URL/api/sales as fast as it
      answers. For each 201 with C orders acknowledged so far, freshness is
      the time from the 201 to the end of the first poll that started after
      it and shows order_count >= C. Prints p50/p99/max in ms, the batches
      measured and the rate reached.
  goals.py startup URL RUNS -- COMMAND…
      Starts COMMAND RUNS times (the string {run} in it becomes the run's
      number) and times each from exec to the first 200 from URL, polling
      every 0.5 ms; prints the median and the slowest in ms.
"""

import http.client
import json
import random
import subprocess
import sys
import threading
import time
import urllib.parse

SOURCES = ["Dine In", "Takeaway", "Home Delivery"]


def percentile(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def freshness(url, rate, seconds):
    u = urllib.parse.urlparse(url)
    per_batch = max(1, rate // 100)
    rnd = random.Random(3)
    acks, polls = [], []   # (t_201, acked so far) ; (t_start, t_end, count)
    done = threading.Event()
    errors = []

    # Bodies made beforehand, so that high rates measure the server, not
    # this script's JSON encoding.
    bodies = ["".join(json.dumps({"customer_id": rnd.randint(1, 17),
                                  "source": rnd.choice(SOURCES),
                                  "quantity": rnd.randint(1, 100)}) + "\n"
                      for _ in range(per_batch)) for _ in range(16)]

    def sender():
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        acked, t0, i = 0, time.perf_counter(), 0
        while time.perf_counter() - t0 < seconds:
            due = t0 + i * 0.010
            now = time.perf_counter()
            if due > now:
                time.sleep(due - now)
            body = bodies[i % len(bodies)]
            c.request("POST", "/v1/orders", body, {"Content-Type": "application/x-ndjson"})
            r = c.getresponse()
            r.read()
            t = time.perf_counter()
            if r.status != 201:
                errors.append(r.status)
                break
            acked += per_batch
            acks.append((t, acked))
            i += 1
        done.set()

    def poller():
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=30)
        while True:
            stop = done.is_set()
            t1 = time.perf_counter()
            c.request("GET", "/api/sales")
            r = c.getresponse()
            count = json.loads(r.read())["order_count"]
            polls.append((t1, time.perf_counter(), count))
            if stop and (not acks or count >= acks[-1][1]):
                return
            if stop and time.perf_counter() - acks[-1][0] > 10:
                return   # never caught up: those batches count as unseen
            time.sleep(0.0005)

    ts = [threading.Thread(target=sender), threading.Thread(target=poller)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        sys.exit("freshness: POST /v1/orders answered %s" % errors[0])
    lat, j, unseen = [], 0, 0
    for t_ack, c in acks:
        while j < len(polls) and polls[j][0] < t_ack:
            j += 1
        k = j
        while k < len(polls) and polls[k][2] < c:
            k += 1
        if k == len(polls):
            unseen += 1
        else:
            lat.append((polls[k][1] - t_ack) * 1000)
    span = acks[-1][0] - acks[0][0] if len(acks) > 1 else 1
    print("p50_ms=%.1f p99_ms=%.1f max_ms=%.1f batches=%d unseen=%d rate=%.0f polls=%d" % (
        percentile(lat, 0.50), percentile(lat, 0.99), max(lat), len(lat), unseen,
        (acks[-1][1] - acks[0][1]) / span, len(polls)))


def get_status(u):
    try:
        c = http.client.HTTPConnection(u.hostname, u.port, timeout=1)
        c.request("GET", u.path or "/")
        s = c.getresponse().status
        c.close()
        return s
    except OSError:
        return 0


def startup(url, runs, cmd):
    u = urllib.parse.urlparse(url)
    times = []
    for n in range(runs):
        argv = [a.replace("{run}", str(n)) for a in cmd]
        t0 = time.perf_counter()
        p = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while get_status(u) != 200:
            if p.poll() is not None:
                sys.exit("startup: %s exited with %d" % (argv[0], p.returncode))
            if time.perf_counter() - t0 > 30:
                p.kill()
                sys.exit("startup: %s not ready after 30 s" % url)
            time.sleep(0.0005)
        times.append((time.perf_counter() - t0) * 1000)
        p.terminate()
        p.wait()
    times.sort()
    print("median_ms=%.1f max_ms=%.1f runs=%d" % (times[len(times) // 2], times[-1], runs))


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "freshness":
        freshness(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]))
    elif len(sys.argv) > 5 and sys.argv[1] == "startup" and sys.argv[4] == "--":
        startup(sys.argv[2], int(sys.argv[3]), sys.argv[5:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
