#!/usr/bin/python3
"""Free-path overhead benchmark: will-it-scale page_fault1-style
throughput (map, write every page, unmap) in the guest.

Configurations, interleaved in one invocation:
  pristine          Debian's 6.12 tree without the series, same config
  patched           the pagehint kernel; both without a reporting device
                    (no virtio-balloon), so this isolates the cost the
                    series adds to the free and allocation paths
  patched-balloon   the pagehint kernel with free page reporting on
                    (events off), for reference
  patched-events    as patched-balloon, with every page_hinting event
                    enabled in tracefs (no reader): the events' cost
  patched-hintstat  as patched-balloon, with `hintstat -j 1` attached
                    (all page_hinting events on, BPF programs running):
                    the tool's cost, as a ratio to patched-balloon
  patched-host      as patched-balloon, with `hintstat host` tracing the
                    QEMU process on the host (attached before the guest's
                    first instruction)

Each sample is one boot running REPS timed runs; the boot's median is the
sample. Prints median [min..max] faults/s, and each configuration's ratio
to the one it adds a single thing to: the median of the per-iteration
ratios (sample i against sample i), with their min..max.

Two clocks. By default the guest's clock is real time: throughput
includes everything the host does meanwhile (TCG translation, other
load), and spreads a few %. With --icount SHIFT (TCG only) QEMU derives
the guest's clock from the instructions it executed (2^SHIFT ns each,
sleep=off): faults per virtual second then count instructions per fault,
deterministic enough to resolve a few tenths of a %, but blind to costs
outside the guest's instruction stream (the host's side of a discard, a
host tracer's work).

  bench/pagefault.py [-n SAMPLES] [--configs a,b,...] [--icount SHIFT] [-o FILE]
"""
import json
import os
import select
import statistics
import subprocess
import sys
import time

from benchlib import (BUILD, arg_parser, fmt, kernel, meta, pagehint_vm,
                      pick_configs, stats)

CONFIGS = {  # name: (kernel flavour, balloon, what is attached)
    "pristine": ("pristine", False, None),
    "patched": ("default", False, None),
    "patched-balloon": ("default", True, None),
    "patched-events": ("default", True, "events"),
    "patched-hintstat": ("default", True, "hintstat"),
    "patched-host": ("default", True, "host"),
}
# Each configuration against the one it adds a single thing to.
AGAINST = {"patched": "pristine", "patched-balloon": "patched",
           "patched-events": "patched-balloon", "patched-hintstat": "patched-balloon",
           "patched-host": "patched-balloon"}
HINTSTAT = os.path.join(BUILD, "bin", "hintstat")


class HostTracer:
    """`hintstat host` on the guest's QEMU, attached before it runs."""

    def __init__(self):
        self.proc = None

    def __call__(self, pid, timeout=60):
        # Read the raw pipe under a deadline: a tracer that hangs without
        # a word must fail the sample, not stall the bench.
        self.proc = subprocess.Popen([HINTSTAT, "host", "-p", str(pid), "-j", "1"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        fd, seen = self.proc.stderr.fileno(), b""
        deadline = time.monotonic() + timeout
        while b"Tracing" not in seen:
            left = deadline - time.monotonic()
            ready = left > 0 and select.select([fd], [], [], left)[0]
            chunk = os.read(fd, 4096) if ready else b""
            if not chunk:
                self.proc.kill()
                self.proc.wait()
                raise SystemExit(f"pagefault: hintstat host did not attach within "
                                 f"{timeout} s: " + seen.decode(errors="replace"))
            seen += chunk

    def close(self):
        if self.proc:
            try:
                self.proc.wait(30)      # exits with its VMM
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def sample(name, i, out, seconds, mib, reps, icount=None):
    flavour, balloon, attach = CONFIGS[name]
    k, initrd = kernel(flavour)
    kw = {}
    if icount is not None:
        kw = {"accel": "tcg", "pin_tsc": False,
              "extra_qemu": ["-icount", f"shift={icount},sleep=off"]}
    tracer = HostTracer() if attach == "host" else None
    try:
        r = pagehint_vm.run(k, initrd, "pagefault", os.path.join(out, f"{name}-{i}"),
                            env={"SECONDS": seconds, "MIB": mib, "REPS": reps,
                                 "HINTSTAT": int(attach == "hintstat"),
                                 "EVENTS": int(attach == "events")},
                            balloon=balloon, timeout=300 + 8 * seconds * reps,
                            on_start=tracer, **kw)
    finally:
        if tracer:
            tracer.close()
    if not r["ok"]:
        raise SystemExit(f"pagefault: {name} sample {i}: {r.get('error')}")
    with open(os.path.join(r["outdir"], "pagefault.json")) as f:
        runs = [json.loads(l) for l in f]
    return {"faults_per_s": statistics.median(x["faults_per_s"] for x in runs),
            "runs": runs, "accel": r["accel"]}


def paired_ratios(head, base):
    """Sample i of head over sample i of base: both ran back to back in
    the same iteration, so slow drifts of the machine cancel."""
    return [h["faults_per_s"] / b["faults_per_s"] for h, b in zip(head, base)]


def main():
    ap = arg_parser(__doc__, "pagefault", CONFIGS)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--mib", type=int, default=128)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--icount", type=int, metavar="SHIFT",
                    help="guest clock from instructions executed (TCG), 2^SHIFT ns each")
    a = ap.parse_args()
    names = pick_configs(ap, a.configs, CONFIGS)
    for n in names:
        k = kernel(CONFIGS[n][0])[0]
        if not os.path.exists(k):
            ap.error(f"{k} missing (hint: scripts/kernel.sh {CONFIGS[n][0]})")
    out = os.path.join(BUILD, "bench", "runs")
    res = {n: [] for n in names}
    for i in range(a.samples):
        for n in names:
            s = sample(n, i, out, a.seconds, a.mib, a.reps, a.icount)
            res[n].append(s)
            print(f"  {n:<16} #{i}: {s['faults_per_s']:.0f} faults/s", file=sys.stderr)
    summary = {n: stats([s["faults_per_s"] for s in res[n]]) for n in names}
    ratios = {n: paired_ratios(res[n], res[AGAINST[n]]) for n in names
              if AGAINST.get(n) in res}
    doc = {**meta("pagefault"), "accel": res[names[0]][0]["accel"],
           "icount_shift": a.icount, "mib": a.mib, "seconds": a.seconds,
           "reps": a.reps, "samples": res, "summary": summary,
           "ratios": {n: {"against": AGAINST[n], **stats(v)} for n, v in ratios.items()}}
    os.makedirs(os.path.dirname(a.output), exist_ok=True)
    with open(a.output, "w") as f:
        json.dump(doc, f, indent=1)
    clock = (f"icount shift={a.icount}: per virtual second" if a.icount is not None
             else "real time")
    print(f"page_fault1-style throughput, {a.mib} MiB per loop "
          f"({doc['accel']}, {clock}, {a.samples} boots x {a.reps} runs, "
          "median [min..max])")
    for n in names:
        r = doc["ratios"].get(n)
        ratio = (f"  x{r['median']:.4f} [{r['min']:.4f}..{r['max']:.4f}] vs {r['against']}"
                 if r else "")
        print(f"{n:<17}{fmt(summary[n], 0):>31} faults/s{ratio}")
    print(f"results: {a.output}")


if __name__ == "__main__":
    main()
