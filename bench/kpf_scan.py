#!/usr/bin/python3
"""Cost of hintstat's workqueue mode on the machine it runs on.

The workqueue mode pays two things: a BPF program on every work item the
kernel runs (workqueue_execute_start/end, any workqueue), and once per
interval a scan of /proc/kpageflags, one 8-byte read per
page_reporting_order stride (2 MiB) of every zone's span. This runs
`hintstat --mode workqueue -j -S 1` for SECONDS and reports, from its
own figures: the scan's time per interval (median [min..max]), the
reads, the ns per read and so the cost per GiB of zone span, and the
BPF run time per work item (kernel.bpf_stats).

    /usr/bin/python3 bench/kpf_scan.py [--seconds S] [--out FILE]

Writes build/bench/kpf_scan.json by default. Needs root and
build/bin/hintstat; the kernel needs page_reporting_process and
/proc/kpageflags (the mode is forced, so it runs with or without the
pagehint series).
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


def zone_span_pages():
    """Sum of the zones' spans in /proc/zoneinfo: what the scan covers."""
    total = 0
    with open("/proc/zoneinfo") as f:
        for line in f:
            w = line.split()
            if len(w) == 2 and w[0] == "spanned":
                total += int(w[1])
    return total


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--out", default=os.path.join(BUILD, "bench", "kpf_scan.json"))
    a = ap.parse_args()
    if not os.path.exists(HINTSTAT):
        sys.exit(f"kpf_scan: {HINTSTAT} missing (hint: make tools)")
    p = subprocess.run([HINTSTAT, "--mode", "workqueue", "-j", "-S", "1",
                        str(a.seconds)], capture_output=True, text=True,
                       timeout=a.seconds + 60)
    if p.returncode:
        sys.exit(f"kpf_scan: hintstat failed: {p.stderr.strip()}")
    lines = [json.loads(l) for l in p.stdout.splitlines()]
    now = [o["reported_now"] for o in lines if o["reported_now"]]
    if not now:
        sys.exit("kpf_scan: no kpageflags scan (hint: CONFIG_PROC_PAGE_MONITOR)")
    scan = [n["scan_ns"] for n in now]
    reads = statistics.median(n["reads"] for n in now)
    span_gib = zone_span_pages() * os.sysconf("SC_PAGE_SIZE") / (1 << 30)
    stats = lines[-1]["bpf_stats"]
    runs = sum(s["run_cnt"] for s in stats.values())
    run_ns = sum(s["run_time_ns"] for s in stats.values())
    items = stats["wq_pass_start"]["run_cnt"]
    res = {
        "kernel": os.uname().release, "seconds": a.seconds,
        "zone_span_gib": round(span_gib, 2), "intervals": len(scan),
        "scan_ms": {"median": statistics.median(scan) / 1e6,
                    "min": min(scan) / 1e6, "max": max(scan) / 1e6},
        "reads": reads,
        "ns_per_read": statistics.median(scan) / reads if reads else None,
        "ms_per_gib": statistics.median(scan) / 1e6 / span_gib,
        "work_items": items, "work_items_per_s": items / a.seconds,
        "bpf_ns_per_work_item": run_ns / items if items else None,
        "bpf_runs": runs,
    }
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
    s = res["scan_ms"]
    print(f"kernel {res['kernel']}, zones span {span_gib:.1f} GiB, "
          f"{len(scan)} intervals")
    print(f"kpageflags scan: {s['median']:.2f} ms [{s['min']:.2f}..{s['max']:.2f}] "
          f"per interval, {reads:.0f} reads, {res['ns_per_read']:.0f} ns/read, "
          f"{res['ms_per_gib']:.3f} ms per GiB (64 GiB: "
          f"{64 * res['ms_per_gib']:.1f} ms)")
    if items:
        print(f"BPF: {items} work items ({res['work_items_per_s']:.0f}/s), "
              f"{res['bpf_ns_per_work_item']:.0f} ns per work item "
              f"(start + end programs)")
    print(f"written to {a.out}")


if __name__ == "__main__":
    main()
