#!/usr/bin/python3
"""Time-to-reclaim benchmark: a 1 GiB guest frees 600 MiB; how long until
the QEMU process's RSS has dropped by 50 % and 90 % of that?

Configurations run interleaved, in the same invocation, so they share the
machine's state (TCG speed, load):
  stock           Debian's unmodified 6.12 kernel (the baseline)
  patched         the pagehint kernel, events off, mainline 2 s delay
  patched-d100    the pagehint kernel, events off, delay_ms=100

Prints a table (median and min..max over the samples) and writes JSON.
This is a benchmark, not a test: it asserts nothing.

  bench/reclaim.py [-n SAMPLES] [--configs a,b,...] [-o FILE]
"""
import json
import os
import sys

from benchlib import (BUILD, arg_parser, fmt, kernel, meta, pagehint_vm,
                      pick_configs, stats)

MIB = 600
CONFIGS = {
    "stock": (kernel("stock"), {}),
    "patched": (kernel("default"), {}),
    "patched-d100": (kernel("default"), {"DELAY_MS": 100}),
}


def sample(name, i, out):
    (kernel, initrd), extra = CONFIGS[name]
    env = {"MIB": MIB, "EVENTS": 0, "SETTLE": 15, **extra}
    r = pagehint_vm.run(kernel, initrd, "oneshot",
                        os.path.join(out, f"{name}-{i}"), env=env,
                        timeout=300)
    if not r["ok"]:
        raise SystemExit(f"reclaim: {name} sample {i}: {r.get('error')}")
    m, rss = r["markers"], r["rss"]
    t = pagehint_vm.reclaim_times(rss, m["freed.1"], MIB * 1024)
    at = lambda ts: [k for s, k in rss if s <= ts][-1]  # noqa: E731
    return {"t50_s": t[0.5], "t90_s": t[0.9],
            "drop_mib": (at(m["freed.1"]) - at(m["idle"])) / 1024,
            "boot_s": r["guest_boot_s"], "accel": r["accel"]}


def main():
    ap = arg_parser(__doc__, "reclaim", CONFIGS)
    a = ap.parse_args()
    names = pick_configs(ap, a.configs, CONFIGS)
    out = os.path.join(BUILD, "bench", "runs")
    res = {n: [] for n in names}
    for i in range(a.samples):
        for n in names:
            res[n].append(sample(n, i, out))
            s = res[n][-1]
            print(f"  {n:<13} #{i}: t50 {s['t50_s']} s, t90 {s['t90_s']} s, "
                  f"drop {s['drop_mib']:.0f} MiB", file=sys.stderr)
    doc = {**meta("reclaim"), "guest_mib": 1024, "freed_mib": MIB,
           "accel": res[names[0]][0]["accel"], "samples": res,
           "summary": {n: {k: stats([s[k] for s in res[n]])
                           for k in ("t50_s", "t90_s", "drop_mib", "boot_s")}
                       for n in names}}
    os.makedirs(os.path.dirname(a.output), exist_ok=True)
    with open(a.output, "w") as f:
        json.dump(doc, f, indent=1)
    accel = res[names[0]][0]["accel"]
    print(f"time to reclaim, {MIB} MiB freed in a 1 GiB guest "
          f"({accel}, {a.samples} samples, median [min..max])")
    print(f"{'config':<14}{'t50 s':>20}{'t90 s':>20}{'drop MiB':>12}")
    base = doc["summary"].get("stock", {}).get("t90_s")
    for n in names:
        s = doc["summary"][n]
        ratio = ""
        if base and s["t90_s"]:
            ratio = f"  t90 x{s['t90_s']['median'] / base['median']:.2f} vs stock"
        print(f"{n:<14}{fmt(s['t50_s']):>20}{fmt(s['t90_s']):>20}"
              f"{s['drop_mib']['median']:>12.0f}{ratio}")
    print(f"results: {a.output}")


if __name__ == "__main__":
    main()
