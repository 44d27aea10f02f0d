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
  patched-hintstat  as patched-balloon, with `hintstat -j 1` attached
                    (all page_hinting events on, BPF programs running):
                    the tool's cost, as a ratio to patched-balloon

Each sample is one boot running REPS timed runs; the boot's median is the
sample. Prints median [min..max] faults/s and the ratio to pristine.

  bench/pagefault.py [-n SAMPLES] [--configs a,b,...] [-o FILE]
"""
import json
import os
import statistics
import sys

from benchlib import (BUILD, arg_parser, fmt, kernel, meta, pagehint_vm,
                      pick_configs, stats)

CONFIGS = {  # name: (kernel flavour, balloon, hintstat attached)
    "pristine": ("pristine", False, False),
    "patched": ("default", False, False),
    "patched-balloon": ("default", True, False),
    "patched-hintstat": ("default", True, True),
}


def sample(name, i, out, seconds, mib, reps):
    flavour, balloon, hintstat = CONFIGS[name]
    k, initrd = kernel(flavour)
    r = pagehint_vm.run(k, initrd, "pagefault", os.path.join(out, f"{name}-{i}"),
                        env={"SECONDS": seconds, "MIB": mib, "REPS": reps,
                             "HINTSTAT": int(hintstat)},
                        balloon=balloon, timeout=120 + 2 * seconds * reps)
    if not r["ok"]:
        raise SystemExit(f"pagefault: {name} sample {i}: {r.get('error')}")
    with open(os.path.join(r["outdir"], "pagefault.json")) as f:
        runs = [json.loads(l) for l in f]
    return {"faults_per_s": statistics.median(x["faults_per_s"] for x in runs),
            "runs": runs, "accel": r["accel"]}


def main():
    ap = arg_parser(__doc__, "pagefault", CONFIGS)
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--mib", type=int, default=128)
    ap.add_argument("--reps", type=int, default=3)
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
            s = sample(n, i, out, a.seconds, a.mib, a.reps)
            res[n].append(s)
            print(f"  {n:<16} #{i}: {s['faults_per_s']:.0f} faults/s", file=sys.stderr)
    summary = {n: stats([s["faults_per_s"] for s in res[n]]) for n in names}
    doc = {**meta("pagefault"), "accel": res[names[0]][0]["accel"],
           "mib": a.mib, "seconds": a.seconds, "reps": a.reps,
           "samples": res, "summary": summary}
    os.makedirs(os.path.dirname(a.output), exist_ok=True)
    with open(a.output, "w") as f:
        json.dump(doc, f, indent=1)
    print(f"page_fault1-style throughput, {a.mib} MiB per loop "
          f"({doc['accel']}, {a.samples} boots x {a.reps} runs, median [min..max])")
    # Each configuration against the one it adds a single thing to.
    against = {"patched": "pristine", "patched-balloon": "pristine",
               "patched-hintstat": "patched-balloon"}
    for n in names:
        b = against.get(n)
        ratio = (f"  x{summary[n]['median'] / summary[b]['median']:.3f} vs {b}"
                 if b in summary else "")
        print(f"{n:<17}{fmt(summary[n], 0):>31} faults/s{ratio}")
    print(f"results: {a.output}")


if __name__ == "__main__":
    main()
