#!/usr/bin/python3
"""Cost of `hintstat host`'s refault figure: the pagemap scan it runs
every interval over the guest-RAM pages marked discarded.

A stand-in VMM (tests/hostlib.py RAM_VMM, 4 KiB pages) maps RAM_MIB of
guest RAM and fills it; for each size D it discards the first D MiB
(madvise DONTNEED) and reads hintstat host -j's refault_scan_ns and
refault_scan_pages over SCANS intervals while those pages stay discarded
(every marked page is read again each interval: the steady cost), then
fills them again and takes the one scan that finds them resident (the
scan that clears them).

    /usr/bin/python3 bench/refault_scan.py [--ram-mib N] [--scans N]
                                           [--out FILE] [D_MIB ...]

Writes a JSON result (default build/bench/refault_scan.json) and prints a
table. Needs root (BPF) and build/bin/hintstat (make tools).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BUILD", os.path.join(TOP, "build"))
HINTSTAT = os.path.join(BUILD, "bin", "hintstat")
sys.path.insert(0, os.path.join(TOP, "tests"))
from hostlib import MIB, Lines, RamVmm  # noqa: E402


def measure(ram_mib, d_mib, scans):
    """Scan cost with d_mib discarded, then the scan that clears them."""
    with RamVmm("4k", ram_mib) as vmm:
        host = subprocess.Popen(
            [HINTSTAT, "host", "-p", str(vmm.pid), "--ram", f"{ram_mib}M",
             "-j", "0.2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)
        try:
            out, err = Lines(host.stdout), Lines(host.stderr)
            err.wait(lambda l: "Tracing" in l, 60, "Tracing")
            vmm.do(f"dontneed 0 {d_mib * MIB}")
            out.wait(lambda l: json.loads(l)["total"]["discarded_bytes"] ==
                     d_mib * MIB, 60, "the discard")
            steady = [json.loads(out.wait(lambda l: True, 30))
                      for _ in range(scans)]
            vmm.do(f"fill 0 {d_mib * MIB}")
            clear = json.loads(out.wait(
                lambda l: json.loads(l)["refault_bytes"] > 0, 60, "refaults"))
            host.terminate()
            host.wait(30)
        finally:
            if host.poll() is None:
                host.kill()
                host.wait()
    return {
        "discarded_mib": d_mib,
        "steady_scan_ns_median": statistics.median(
            o["refault_scan_ns"] for o in steady),
        "steady_scan_pages": steady[-1]["refault_scan_pages"],
        "clear_scan_ns": clear["refault_scan_ns"],
        "clear_scan_pages": clear["refault_scan_pages"],
        "clear_refault_bytes": clear["refault_bytes"],
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ram-mib", type=int, default=1026)
    ap.add_argument("--scans", type=int, default=10)
    ap.add_argument("--out", default=os.path.join(BUILD, "bench",
                                                  "refault_scan.json"))
    ap.add_argument("d_mib", type=int, nargs="*", default=[2, 64, 1024])
    a = ap.parse_args()
    res = {"ram_mib": a.ram_mib, "scans": a.scans,
           "runs": [measure(a.ram_mib, d, a.scans) for d in a.d_mib]}
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
    print(f"{'discarded':>10} {'pages read':>10} {'scan us':>9} "
          f"{'ns/page':>8} {'clear us':>9} {'refault MiB':>11}")
    for r in res["runs"]:
        pages = max(r["steady_scan_pages"], 1)
        print(f"{r['discarded_mib']:>7} MiB {r['steady_scan_pages']:>10} "
              f"{r['steady_scan_ns_median'] / 1e3:>9.1f} "
              f"{r['steady_scan_ns_median'] / pages:>8.1f} "
              f"{r['clear_scan_ns'] / 1e3:>9.1f} "
              f"{r['clear_refault_bytes'] / MIB:>11.1f}")
    print(f"(written to {a.out})")


if __name__ == "__main__":
    main()
