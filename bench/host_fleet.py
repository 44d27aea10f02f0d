#!/usr/bin/python3
"""Cost of `hintstat host` watching every VMM of a host at once.

N stand-in VMMs (children run through a link named qemu-system-fleet,
so their command line reads as QEMU's: `-m 32M -name guest=fleetI`) each
discard 1 MiB of their guest RAM and touch it again once a second, as a
guest that reports and reallocates. `hintstat host -n qemu-system-fle -j`
traces them all; over a window of S seconds the bench reads its CPU time
(/proc/PID/task/*/schedstat, in ns) and, with kernel.bpf_stats_enabled,
the run time of its BPF programs (charged to the VMMs, not to hintstat):
both as a share of one core. A baseline in the same run: the same with
one VMM. Each configuration ROUNDS times: median [min..max].

Checked as it goes: every VMM's JSON totals must hold the discards it
made (its own count, an independent side) by the end of the window.

    /usr/bin/python3 bench/host_fleet.py [--vmms N] [--seconds S]
                                         [--rounds R] [--out FILE]

Writes build/bench/host_fleet.json and prints a table. Needs root and
build/bin/hintstat (make tools).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BUILD", os.path.join(TOP, "build"))
HINTSTAT = os.path.join(BUILD, "bin", "hintstat")
RAM_MIB = 32

# The stand-in: 32 MiB of RAM; every second one 1 MiB discard (a cycle
# through its RAM) and the range touched again, from "go" on stdin; "n"
# prints how many discards it made.
VMM = r'''
import select, sys, time
sys.path.insert(0, %(bench)r)
from host_overhead import guest_ram
MIB, size = 1 << 20, %(ram)d << 20
libc, ram = guest_ram(size)
libc.memset(ram, 1, size)
print("ready", flush=True)
sys.stdin.readline()                    # "go": hintstat host is attached
n, t = 0, time.monotonic()
while True:
    r, _, _ = select.select([sys.stdin], [], [], max(0, t - time.monotonic()))
    if r:
        if sys.stdin.readline().strip() != "n":
            break
        print(n, flush=True)
        continue
    off = (n %% (size // MIB)) * MIB
    assert libc.madvise(ram + off, MIB, 4) == 0
    n += 1
    libc.memset(ram + off, 2, MIB)
    t += 1.0
'''


def cpu_s(pid):
    """CPU time of every thread of pid, from schedstat (ns, not ticks)."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
            total += int(f.read().split()[0])
    return total / 1e9


def bpf_run_ns(names):
    """Sum of run_time_ns of the loaded BPF programs with these names."""
    out = subprocess.run(["bpftool", "-j", "prog", "show"],
                         capture_output=True, text=True)
    if out.returncode:
        return None
    return sum(p.get("run_time_ns", 0) for p in json.loads(out.stdout)
               if p.get("name") in names)


class Fleet:
    def __init__(self, n, link):
        self.procs = []
        for i in range(n):
            p = subprocess.Popen(
                [link, "-c", VMM % {"ram": RAM_MIB, "bench": os.path.join(TOP, "bench")}, "-m", f"{RAM_MIB}M",
                 "-name", f"guest=fleet{i},debug-threads=on"],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
            self.procs.append(p)
        for p in self.procs:
            if p.stdout.readline().strip() != "ready":
                raise RuntimeError("a stand-in VMM did not start")

    def go(self):
        for p in self.procs:
            p.stdin.write("go\n")
            p.stdin.flush()

    def counts(self):
        res = {}
        for p in self.procs:
            p.stdin.write("n\n")
            p.stdin.flush()
            res[p.pid] = int(p.stdout.readline())
        return res

    def close(self):
        for p in self.procs:
            p.kill()
            p.wait()


def one(n, seconds, link):
    """One round with n VMMs: hintstat's CPU share, BPF's share."""
    fleet = Fleet(n, link)
    host = None
    try:
        host = subprocess.Popen(
            [HINTSTAT, "host", "-n", "qemu-system-fle", "-j", "1"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        last = {}
        reader = threading.Thread(target=lambda: [
            last.__setitem__(o["pid"], o["total"]["discarded_bytes"])
            for o in map(json.loads, host.stdout)], daemon=True)
        reader.start()
        deadline = time.monotonic() + 120
        while len(last) < n:
            if time.monotonic() > deadline or host.poll() is not None:
                raise RuntimeError(f"hintstat host saw {len(last)} of {n} "
                                   f"VMMs: {host.stderr.read()[-500:]}")
            time.sleep(0.1)
        fleet.go()
        names = ("hh_madvise_enter", "hh_madvise_exit",
                 "hh_fallocate_enter", "hh_fallocate_exit")
        c0, b0, t0 = cpu_s(host.pid), bpf_run_ns(names), time.monotonic()
        time.sleep(seconds)
        c1, b1, t1 = cpu_s(host.pid), bpf_run_ns(names), time.monotonic()
        made = fleet.counts()
        time.sleep(2.5)         # two more intervals to see the last ones
        short = [p for p, k in made.items() if last.get(p, 0) < k << 20]
        if short:
            raise RuntimeError(f"{len(short)} VMMs' discards not all counted")
        wall = t1 - t0
        return {"cpu_pct": 100 * (c1 - c0) / wall,
                "bpf_pct": (100 * (b1 - b0) / 1e9 / wall
                            if b0 is not None and b1 is not None else None)}
    finally:
        if host:
            host.kill()
            host.wait()
        fleet.close()


def spread(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return None
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs)}


def fmt(s):
    return "-" if s is None else \
        f"{s['median']:.3f} [{s['min']:.3f}..{s['max']:.3f}]"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--vmms", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(BUILD, "bench",
                                                  "host_fleet.json"))
    a = ap.parse_args()
    if not os.path.exists(HINTSTAT):
        sys.exit(f"host_fleet: {HINTSTAT} missing (hint: make tools)")
    old = None
    try:
        with open("/proc/sys/kernel/bpf_stats_enabled") as f:
            old = f.read().strip()
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write("1")
    except OSError:
        pass
    res = {"vmms": a.vmms, "seconds": a.seconds, "rounds": a.rounds,
           "ram_mib": RAM_MIB, "samples": {}}
    with tempfile.TemporaryDirectory() as d:
        link = os.path.join(d, "qemu-system-fleet")
        os.symlink(sys.executable, link)
        try:
            for r in range(a.rounds):
                for n in (1, a.vmms):
                    s = one(n, a.seconds, link)
                    res["samples"].setdefault(str(n), []).append(s)
                    print(f"host_fleet: round {r + 1}/{a.rounds}, {n} VMMs: "
                          f"hintstat {s['cpu_pct']:.3f} % of a core",
                          file=sys.stderr)
        finally:
            if old is not None:
                with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
                    f.write(old)
    for n, ss in res["samples"].items():
        res[n] = {"cpu_pct": spread([s["cpu_pct"] for s in ss]),
                  "bpf_pct": spread([s["bpf_pct"] for s in ss])}
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
    print(f"{'VMMs':>5}  {'hintstat host, % of a core':>28}  "
          f"{'BPF programs, % of a core':>28}")
    for n in ("1", str(a.vmms)):
        print(f"{n:>5}  {fmt(res[n]['cpu_pct']):>28}  "
              f"{fmt(res[n]['bpf_pct']):>28}")
    print(f"(median [min..max] of {a.rounds} rounds of {a.seconds:g} s; "
          f"each VMM discards 1 MiB a second; {a.out})")


if __name__ == "__main__":
    main()
