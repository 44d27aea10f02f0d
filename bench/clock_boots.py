#!/usr/bin/python3
"""Guest clock benchmark: boot the pagehint guest N times in a row under
TCG and check each boot's clock: did the kernel lose its TSC, which
clocksource does it run on, which TSC rate did it take, and does a 1 s
sleep timed by the guest's clock take 1 s of the host's?

Every boot is one QEMU: the runner's restart of a boot that lost its
clock is off here, so every broken clock counts.
  --unpinned   the old way: no tsc_early_khz=, the guest calibrates its
               TSC against the emulated PIT
  --load N     N busy loops on the host for the whole run

Prints a line per boot, then "N boots, K broken clocks", and writes JSON
(default build/bench/clock_boots.json). A benchmark: it asserts nothing,
but exits 1 when a boot did not run its scenario to the end.

  bench/clock_boots.py [-n BOOTS] [--unpinned] [--load N] [-o FILE]
"""
import argparse
import collections
import json
import os
import re
import subprocess
import sys
import time

from benchlib import BUILD, fmt, kernel, meta, pagehint_vm, stats

TSC_RE = re.compile(r"tsc: Detected (\d+)\.(\d+) MHz (processor|TSC)")
TSC_LINE_RE = re.compile(r"^(?:\[[ \d.]+\] )?tsc: .*", re.M)
BOOT_TIMEOUT_S = 120


def guest_tsc_khz(console):
    """The TSC rate the guest kernel settled on: its "Detected ... MHz
    TSC" line when it differs from the processor's, else the processor's."""
    found = {kind: int(mhz) * 1000 + int(frac)
             for mhz, frac, kind in TSC_RE.findall(console)}
    return found.get("TSC", found.get("processor"))


def read(path):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return None


def sleep_check(outdir):
    """The guest's 1 s sleep as the guest timed it (CLOCK_MONOTONIC in
    memhog's markers) and as the host did (the markers' mtimes)."""
    paths = [os.path.join(outdir, n) for n in ("touched.1", "freed.1")]
    guest = [read(p) for p in paths]
    if None in guest:
        return None, None
    guest_s = (int(guest[1]) - int(guest[0])) / 1e9
    host_s = (os.stat(paths[1]).st_mtime_ns - os.stat(paths[0]).st_mtime_ns) / 1e9
    return round(guest_s, 4), round(host_s, 4)


def boot(i, a, kern, initrd, out):
    r = pagehint_vm.run(kern, initrd, "clock", out, accel="tcg",
                        pin_tsc=not a.unpinned, clock_tries=1,
                        timeout=BOOT_TIMEOUT_S)
    console = read(os.path.join(out, "console.log")) or ""
    guest_s, host_s = sleep_check(r["outdir"])
    cs = read(os.path.join(r["outdir"], "clocksource"))
    return {"boot": i, "ok": r["ok"], "error": r.get("error"),
            "wall_s": r["wall_s"], "clock_broken": r["clock_broken"],
            "clocksource": cs.strip() if cs else r["clocksource"],
            "tsc_early_khz": r["tsc_early_khz"],
            "guest_tsc_khz": guest_tsc_khz(console),
            "sleep_guest_s": guest_s, "sleep_host_s": host_s,
            "sleep_ratio": round(guest_s / host_s, 4) if guest_s and host_s else None,
            "tsc_lines": TSC_LINE_RE.findall(console)}


def busy_loops(n):
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"],
                             start_new_session=True) for _ in range(n)]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", "--boots", type=int, default=50)
    ap.add_argument("--unpinned", action="store_true",
                    help="no tsc_early_khz= (the old way)")
    ap.add_argument("--load", type=int, default=0, metavar="N",
                    help="N busy loops on the host meanwhile (0)")
    ap.add_argument("-o", "--output",
                    default=os.path.join(BUILD, "bench", "clock_boots.json"))
    a = ap.parse_args()
    if a.boots <= 0 or a.load < 0:
        ap.error("want --boots > 0 and --load >= 0")
    kern, initrd = kernel("default")
    mode = "unpinned" if a.unpinned else "pinned"
    runs = os.path.join(BUILD, "bench", "clock-runs")
    t0 = time.monotonic()
    loops = busy_loops(a.load)
    boots = []
    try:
        for i in range(a.boots):
            b = boot(i, a, kern, initrd, os.path.join(runs, f"{mode}-{i}"))
            boots.append(b)
            print(f"  #{i:<3} {'BROKEN' if b['clock_broken'] else 'ok':<7}"
                  f"{b['clocksource'] or '?':<16}guest TSC {b['guest_tsc_khz']} kHz"
                  f"  sleep 1: guest {b['sleep_guest_s']} s host "
                  f"{b['sleep_host_s']} s  wall {b['wall_s']} s"
                  + ("" if b["ok"] else f"  FAILED: {b['error']}"),
                  file=sys.stderr, flush=True)
    except pagehint_vm.UsageError as e:
        print(f"clock_boots: {e}", file=sys.stderr)
        return 2
    finally:
        for p in loops:
            p.kill()
            p.wait()
    broken = sum(b["clock_broken"] for b in boots)
    doc = {**meta("clock_boots"), "mode": mode, "load": a.load,
           "host_tsc_khz": pagehint_vm.host_tsc_khz(),
           "wall_s": round(time.monotonic() - t0, 1), "boots": boots,
           "summary": {"boots": len(boots), "broken_clocks": broken,
                       "failed_boots": sum(not b["ok"] for b in boots),
                       "clocksources": collections.Counter(
                           b["clocksource"] for b in boots),
                       "guest_tsc_khz": collections.Counter(
                           b["guest_tsc_khz"] for b in boots),
                       "sleep_ratio": stats([b["sleep_ratio"] for b in boots]),
                       "boot_wall_s": stats([b["wall_s"] for b in boots])}}
    os.makedirs(os.path.dirname(os.path.abspath(a.output)), exist_ok=True)
    with open(a.output, "w") as f:
        json.dump(doc, f, indent=1)
    s = doc["summary"]
    print(f"{len(boots)} boots, {broken} broken clocks ({mode}, load {a.load}, "
          f"host TSC {doc['host_tsc_khz']} kHz)")
    print(f"  clocksources: {dict(s['clocksources'])}; guest TSC kHz: "
          f"{dict(s['guest_tsc_khz'])}")
    print(f"  1 s sleep, guest clock / host clock: {fmt(s['sleep_ratio'], 4)}; "
          f"boot wall {fmt(s['boot_wall_s'], 1)} s; {doc['wall_s']} s in all")
    print(f"results: {a.output}")
    return 1 if s["failed_boots"] else 0


if __name__ == "__main__":
    sys.exit(main())
