#!/usr/bin/python3
"""Cost of hintstat's workqueue mode on the machine it runs on.

The workqueue mode pays two things: a BPF program on every work item the
kernel runs (workqueue_execute_start/end, any workqueue), and once per
interval a scan of /proc/kpageflags, one 8-byte read per
page_reporting_order stride (2 MiB) of every zone's span, and a few per
reported block (every page of its upper half with --exact-orders). This
runs `hintstat --mode workqueue -j -S 1`, sampled and --exact-orders in
turn (ROUNDS runs each, SECONDS in all each way), and reports, from its
own figures: the scan's time per interval (median [min..max]), the
reads, the ns per read and so the cost per GiB of zone span, the
reported bytes each way, and the BPF run time per work item
(kernel.bpf_stats).

    /usr/bin/python3 bench/kpf_scan.py [--seconds S] [--rounds N] [--out FILE]

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


def run_hintstat(seconds, exact):
    """The JSON lines of one hintstat --mode workqueue run."""
    cmd = [HINTSTAT, "--mode", "workqueue", "-j", "-S", "1", str(seconds)]
    if exact:
        cmd.insert(3, "--exact-orders")
    p = subprocess.run(cmd, capture_output=True, text=True,
                       timeout=seconds + 60)
    if p.returncode:
        sys.exit(f"kpf_scan: hintstat failed: {p.stderr.strip()}")
    lines = [json.loads(l) for l in p.stdout.splitlines()]
    if not any(o["reported_now"] for o in lines):
        sys.exit("kpf_scan: no kpageflags scan (hint: CONFIG_PROC_PAGE_MONITOR)")
    return lines


def spread(xs, scale=1.0):
    return {"median": statistics.median(xs) / scale,
            "min": min(xs) / scale, "max": max(xs) / scale}


def summarize(lines, span_gib):
    now = [o["reported_now"] for o in lines if o["reported_now"]]
    scan = [n["scan_ns"] for n in now]
    reads = statistics.median(n["reads"] for n in now)
    return {"intervals": len(scan), "scan_ms": spread(scan, 1e6),
            "reads": reads,
            "ns_per_read": statistics.median(scan) / reads if reads else None,
            "ms_per_gib": statistics.median(scan) / 1e6 / span_gib,
            "reported_mib": spread([n["bytes"] for n in now], 1 << 20),
            # exact scans: what three samples would have added, in the
            # same scan (the sampled runs' own totals are other moments)
            "sampled_excess_pct": spread(
                [100 * n["sampled_excess_bytes"] / n["bytes"] for n in now
                 if n["sampled_excess_bytes"] is not None and n["bytes"]])
            if now[0]["exact_orders"] else None}


def bpf_cost(lines, seconds):
    """From the last line of one run: -S counts since that run began."""
    stats = lines[-1]["bpf_stats"]
    items = stats["wq_pass_start"]["run_cnt"]
    run_ns = sum(s["run_time_ns"] for s in stats.values())
    return {"work_items": items, "work_items_per_s": items / seconds,
            "bpf_ns_per_work_item": run_ns / items if items else None,
            "bpf_runs": sum(s["run_cnt"] for s in stats.values())}


def show(name, r):
    s = r["scan_ms"]
    print(f"{name:8s} scan: {s['median']:.2f} ms [{s['min']:.2f}..{s['max']:.2f}] "
          f"per interval, {r['reads']:.0f} reads, {r['ns_per_read']:.0f} ns/read, "
          f"{r['ms_per_gib']:.3f} ms per GiB of span (64 GiB: "
          f"{64 * r['ms_per_gib']:.1f} ms); reported "
          f"{r['reported_mib']['median']:.0f} MiB")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=3,
                    help="sampled and exact runs alternate, ROUNDS each")
    ap.add_argument("--out", default=os.path.join(BUILD, "bench", "kpf_scan.json"))
    a = ap.parse_args()
    if not os.path.exists(HINTSTAT):
        sys.exit(f"kpf_scan: {HINTSTAT} missing (hint: make tools)")
    span_gib = zone_span_pages() * os.sysconf("SC_PAGE_SIZE") / (1 << 30)
    each = max(2, a.seconds // a.rounds)
    runs = {False: [], True: []}
    for _ in range(a.rounds):
        for exact in (False, True):
            runs[exact] += run_hintstat(each, exact)
    sampled = summarize(runs[False], span_gib)
    exact = summarize(runs[True], span_gib)
    res = {"kernel": os.uname().release, "seconds": each * a.rounds,
           "zone_span_gib": round(span_gib, 2), "sampled": sampled,
           "exact": exact,
           "exact_over_sampled": exact["scan_ms"]["median"] /
           sampled["scan_ms"]["median"],
           **bpf_cost(runs[False], each)}
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
    print(f"kernel {res['kernel']}, zones span {span_gib:.1f} GiB, "
          f"{a.rounds} x {each} s each way, alternating")
    show("sampled", sampled)
    show("exact", exact)
    x = exact["sampled_excess_pct"]
    print(f"exact/sampled scan time x{res['exact_over_sampled']:.1f}; in the "
          f"exact scans, three samples would have added {x['median']:.2f} % "
          f"[{x['min']:.2f}..{x['max']:.2f}] of the reported bytes")
    if res["work_items"]:
        print(f"BPF: {res['work_items']} work items "
              f"({res['work_items_per_s']:.0f}/s), "
              f"{res['bpf_ns_per_work_item']:.0f} ns per work item "
              f"(start + end programs)")
    print(f"written to {a.out}")


if __name__ == "__main__":
    main()
