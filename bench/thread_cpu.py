#!/usr/bin/env python3
"""thread_cpu — CPU time (user + sys) per thread of a process over an
interval, from /proc/PID/task/*/stat, grouped by thread name.

  bench/thread_cpu.py PID start FILE     snapshot to FILE
  bench/thread_cpu.py PID end FILE       print "name=seconds ..." since FILE
"""
import json, os, sys

def snap(pid):
    out = {}
    tck = os.sysconf("SC_CLK_TCK")
    for t in os.listdir(f"/proc/{pid}/task"):
        try:
            st = open(f"/proc/{pid}/task/{t}/stat").read()
        except OSError:
            continue
        name = st[st.index("(") + 1:st.rindex(")")]
        f = st[st.rindex(")") + 2:].split()
        out[t] = (name, (int(f[11]) + int(f[12])) / tck)
    return out

pid, what, path = sys.argv[1], sys.argv[2], sys.argv[3]
if what == "start":
    json.dump(snap(pid), open(path, "w"))
else:
    before = json.load(open(path))
    by = {}
    for t, (name, cpu) in snap(pid).items():
        by[name] = by.get(name, 0.0) + cpu - (before.get(t, [name, 0.0])[1])
    print(" ".join(f"{k.replace(' ', '_')}={v:.2f}" for k, v in sorted(by.items(), key=lambda x: -x[1])))
