#!/usr/bin/python3
"""pagehint demo: boot the patched guest, free memory in it, and show what
the page_hinting tracepoints saw next to the host RSS of the guest falling.

Default scenario: a 1 GiB guest allocates, touches and frees 600 MiB
(guest/scenarios/oneshot.sh). This first view reads the guest's tracefs
dump; hintstat will replace it.
"""
import argparse
import collections
import os
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "vm"))

import pagehint_vm  # noqa: E402
import tracefile  # noqa: E402

PHASES = (("boot", "booted"), ("alloc.1", "allocating"),
          ("touched.1", "holding"), ("freed.1", "freed, reporting"),
          ("idle", "reporting idle"), ("rc", "done"))


def fmt_ns(ns):
    if ns >= 1e9:
        return f"{ns / 1e9:.2f} s"
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    return f"{ns / 1e3:.1f} us"


class Live:
    """One status line per second while the VM runs."""

    def __init__(self, mem_mib):
        self.next = 0.0
        self.mem = mem_mib

    def __call__(self, t, kib, markers):
        if t < self.next or kib is None:
            return
        self.next = t + 1.0
        phase = "booting"
        for m, label in PHASES:
            if m in markers:
                phase = label
        mib = kib // 1024
        bar = "#" * int(40 * min(mib, self.mem) / self.mem)
        print(f"  {t:6.1f} s  {phase:<17} host RSS {mib:5d} MiB |{bar:<40}|",
              flush=True)


def summary(r, mib):
    out = r["outdir"]
    with open(os.path.join(out, "trace.txt"), errors="replace") as f:
        text = f.read()
    with open(os.path.join(out, "freed.1")) as f:
        t_free = int(f.read()) / 1e9
    ev = [e for e in tracefile.parse(text) if e.ts >= t_free]
    groups = tracefile.passes(ev)
    bs = [b for _, bs in groups for b in bs]
    ps = [p for p, _ in groups if p is not None]
    ok = sum(b.react["bytes"] for b in bs if b.react["err"] == 0)
    failed = sum(b.react["bytes"] for b in bs if b.react["err"] != 0)

    print("\nWhat the page_hinting tracepoints saw after the free:")
    print(f"  passes {len(ps)}, batches {len(bs)}, "
          f"reported {ok / 2**20:.0f} MiB, failed {failed / 2**20:.0f} MiB, "
          f"lost events {tracefile.lost_events(text)}")
    by = collections.Counter()
    for b in bs:
        if b.react["err"] == 0:
            by[(b.fill["nid"], b.fill["zone"], b.fill["order"])] += b.fill["bytes"]
    print(f"  {'node':>4} {'zone':<7} {'order':>5} {'MiB reported':>13}")
    for (nid, zone, order), n in sorted(by.items()):
        print(f"  {nid:>4} {zone:<7} {order:>5} {n / 2**20:>13.0f}")
    print(f"  {'':<22}{'p50':>10} {'p99':>10} {'max':>10}")
    for label, vals in (
            ("pass duration", [p["duration_ns"] for p in ps]),
            ("device call (react)", [b.react["duration_ns"] for b in bs]),
            ("zone lock, fill", [b.fill["lock_ns"] for b in bs]),
            ("zone lock, drain", [b.drain["lock_ns"] for b in bs])):
        if vals:
            print(f"  {label:<22}{fmt_ns(tracefile.percentile(vals, 50)):>10} "
                  f"{fmt_ns(tracefile.percentile(vals, 99)):>10} "
                  f"{fmt_ns(max(vals)):>10}")

    m = r["markers"]
    rss = r["rss"]
    at = lambda t: [k for ts, k in rss if ts <= t][-1]  # noqa: E731
    before, after = at(m["freed.1"]), at(m["idle"])
    times = pagehint_vm.reclaim_times(rss, m["freed.1"], mib * 1024)
    print("\nWhat the host saw (QEMU process RSS):")
    print(f"  at the free {before // 1024} MiB, once idle {after // 1024} MiB: "
          f"{(before - after) // 1024} MiB of {mib} MiB freed came back")

    def t(x):
        return "never" if x is None else f"{x:.1f} s"

    print(f"  time to -50 %: {t(times[0.5])}, to -90 %: {t(times[0.9])} "
          f"(accel {r['accel']}, mainline 2 s delay)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--initrd", required=True)
    ap.add_argument("--mib", type=int, default=600, help="MiB to free (600)")
    ap.add_argument("--mem", type=int, default=1024, help="guest MiB (1024)")
    ap.add_argument("--out", default=os.path.join(
        os.environ.get("BUILD", os.path.join(TOP, "build")), "runs", "demo"))
    a = ap.parse_args()
    print(f"pagehint demo: a {a.mem} MiB guest allocates, touches and frees "
          f"{a.mib} MiB;\nfree page reporting hands it back to the host.\n")
    try:
        r = pagehint_vm.run(a.kernel, a.initrd, "oneshot", a.out, mem=a.mem,
                            env={"MIB": a.mib, "EVENTS": 1},
                            on_sample=Live(a.mem))
    except pagehint_vm.UsageError as e:
        print(f"demo: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("demo: interrupted, VM torn down", file=sys.stderr)
        return 130
    if not r["ok"]:
        print(f"demo: {r.get('error')} (results in {a.out})", file=sys.stderr)
        return 1
    summary(r, a.mib)
    print(f"\nraw results: {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
