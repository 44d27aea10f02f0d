"""hintstat end to end: in the patched guest, hintstat -j -e runs next to
the tracefs page_hinting events while memhog frees 523 MiB (a prime, so
no round number matches by chance). The independent truth is tracefs:
hintstat's totals, per zone/order counters, histograms, event stream and
BPF run counts must equal what the trace recorded over the same window.
A usage error is checked in the guest too; the other error paths are
in test_hintstat_unit.py, on the host.
"""
import json
import re
from collections import Counter

import pytest

import tracefile
from conftest import (hintstat_zone_counts, kpageflags_vs_zoneinfo,
                      run_vm, trace_batch_counts, trace_zone_counts,
                      zone_hist_counts)
from promlib import check_metrics

pytestmark = pytest.mark.vm

MIB = 1 << 20
FREE_MIB = 523
MAX_SLOTS = 42
HISTS = {  # hintstat histogram -> (trace event, field)
    "pass_ns": ("pass", "duration_ns"),
    "react_ns": ("react", "duration_ns"),
    "fill_lock_ns": ("fill", "lock_ns"),
    "drain_lock_ns": ("drain", "lock_ns"),
    "pass_max_lock_ns": ("pass", "max_lock_ns"),
}
PROGS = {"hs_request": "request", "hs_fill": "fill", "hs_react": "react",
         "hs_drain": "drain", "hs_cycle": "cycle", "hs_pass": "pass",
         "hs_reuse": "reuse"}
PAGE = 4096


def slot(v):
    return min(v.bit_length(), MAX_SLOTS - 1)


@pytest.fixture(scope="module")
def hs_run(kernel, initrd):
    run = run_vm("hintstat-e2e", kernel, initrd, "hintstat",
                 {"MIB": FREE_MIB}, timeout=400)
    run.assert_clean()
    return run


class Output:
    """hintstat -j -e -S output: intervals, events, BPF stats."""

    def __init__(self, text):
        objs = [json.loads(l) for l in text.splitlines()]
        assert all(o["version"] == 1 for o in objs)
        self.intervals = [o for o in objs if "interval_s" in o]
        self.events = [o for o in objs if "event" in o]
        assert len(self.intervals) >= 2
        assert len(objs) == len(self.intervals) + len(self.events)
        # -S: the programs' run counts, read with the last snapshot.
        self.stats = self.intervals[-1]["bpf_stats"]
        self.total = self.intervals[-1]["total"]
        self.t_end = self.intervals[-1]["ts"]


@pytest.fixture(scope="module")
def out(hs_run):
    assert hs_run.file("hintstat.rc").strip() == "0", hs_run.file("hintstat.err")
    return Output(hs_run.file("hintstat.json"))


@pytest.fixture(scope="module")
def trace(hs_run, out):
    text = hs_run.file("trace.txt")
    assert tracefile.lost_events(text) == 0
    events = tracefile.parse(text)
    # The same window: the trace was emptied after hintstat attached, with
    # reporting idle, and ends at hintstat's last snapshot. After it, only
    # the request hintstat's own exit may make (freeing its maps gives
    # high-order pages back); its pass would come after the dump.
    late = [e for e in events if e.ts > out.t_end]
    assert all(e.name in ("request", "reuse") for e in late), late
    return [e for e in events if e.ts <= out.t_end]


def by_name(events, name):
    return [e for e in events if e.name == name]


@pytest.mark.exact('reported bytes', a='hintstat tp_btf programs',
                   b='tracefs page_hinting events',
                   independent=False, why='both read the same tracepoints')
def test_totals_equal_the_trace_sums(out, trace):
    passes = by_name(trace, "pass")
    t = out.total
    assert t["passes"] == len(passes) >= 1
    assert t["batches"] == sum(p["batches"] for p in passes) >= 1
    assert t["bytes"] == sum(p["bytes"] for p in passes)
    assert t["failed_bytes"] == sum(p["failed_bytes"] for p in passes)
    assert t["passes_requeued"] == sum(p["requeued"] for p in passes)
    reacts = by_name(trace, "react")
    assert t["bytes"] == sum(r["bytes"] for r in reacts if r["err"] == 0)
    for name in ("request", "cycle", "fill", "react", "drain"):
        assert t[name + "s"] == len(by_name(trace, name)), name
    assert t["drain_reported"] == sum(d["reported"] for d in by_name(trace, "drain"))
    reuses = by_name(trace, "reuse")
    assert t["reuses"] == len(reuses)
    assert t["reuse_allocated_bytes"] == sum(r["allocated"] for r in reuses) * PAGE
    for why in ("alloc", "merge", "isolate", "offline"):
        assert t[f"reuse_{why}_bytes"] == sum(
            PAGE << r["order"] for r in reuses if r["why"] == why), why
    assert t["unattributed"] == t["out_of_range"] == t["dropped_events"] == 0
    # The free was seen: at least half of what memhog freed was hinted.
    assert t["bytes"] >= FREE_MIB * MIB // 2, f"{t['bytes'] / MIB:.0f} MiB"


def test_reuse_brackets_the_hosts_refaults(hs_run, out):
    """page_hinting_reuse against a different mechanism: the host's page
    tables. From the window's start until memhog touched its 523 MiB,
    QEMU's RSS grew by what the guest took back of discarded memory.
    hintstat's allocated bytes (what allocations got from reported
    blocks) are a lower bound of that: the rest of a split block goes back
    unflagged but stays discarded on the host, and its later allocation
    refaults without a reuse event. The bytes of the blocks allocations
    took or split are an upper bound, up to the guest's own page tables
    and QEMU's own growth (2 % of the allocation)."""
    grown = (hs_run.rss_at(hs_run.marker_host("touched.1"))
             - hs_run.rss_at(hs_run.marker_host("window-start"))) * 1024
    t = out.total
    print(f"host RSS grew {grown / MIB:.1f} MiB; reuse: allocated "
          f"{t['reuse_allocated_bytes'] / MIB:.1f} MiB of "
          f"{t['reuse_alloc_bytes'] / MIB:.1f} MiB of blocks")
    assert grown >= FREE_MIB * MIB * 0.9, "memhog's memory was not discarded"
    assert t["reuse_allocated_bytes"] <= grown
    assert grown <= t["reuse_alloc_bytes"] + FREE_MIB * MIB * 0.02
    assert t["reuse_merge_bytes"] + t["reuse_isolate_bytes"] < grown


def test_intervals_add_up_to_the_totals(out):
    keys = [k for k, v in out.total.items() if isinstance(v, int)]
    for k in keys:
        assert sum(i[k] for i in out.intervals) == out.total[k], k
    for a, b in zip(out.intervals, out.intervals[1:]):
        assert b["ts"] > a["ts"]


@pytest.mark.exact('per-zone per-order counts', a='hintstat tp_btf programs',
                   b='tracefs page_hinting events',
                   independent=False, why='both read the same tracepoints')
def test_zone_order_counters_equal_the_trace(out, trace):
    assert hintstat_zone_counts(out.total) == trace_batch_counts(trace)


@pytest.mark.exact('durations', a='hintstat tp_btf histograms',
                   b="tracefs events' duration fields",
                   independent=False, why='both read the same tracepoints')
def test_histograms_equal_the_trace_values(out, trace):
    for hist, (ev, field) in HISTS.items():
        values = [e[field] for e in by_name(trace, ev)]
        want = Counter(slot(v) for v in values)
        got = Counter()
        for i in out.intervals:
            for b in i["hist"][hist]:
                got[slot(b["min"])] += b["count"]
                assert b["max"] == (0 if b["min"] == 0 else 2 * b["min"] - 1)
        assert +got == want, hist
        assert sum(i["hist_sum"][hist] for i in out.intervals) == sum(values)


@pytest.mark.exact('reported bytes', a='hintstat -e ring buffer stream',
                   b='tracefs page_hinting events',
                   independent=False, why='both read the same tracepoints')
def test_event_stream_equals_the_trace(out, trace):
    assert len(out.events) == len(trace)
    fields = {"zone", "order", "mt", "entries", "bytes", "lock_ns", "err",
              "duration_ns", "reported", "merged", "isolated", "batches",
              "budget_exhausted", "failed_bytes", "requeued", "old_state",
              "queued", "max_lock_ns", "why"}
    # The trace prints the request's old_state by name.
    states = {"idle": 0, "requested": 1, "active": 2}
    for h, t in zip(out.events, trace):
        assert h["event"] == t.name
        common = fields & set(t) & set(h)
        want = {k: states.get(t[k], t[k]) if k == "old_state" else t[k]
                for k in common}
        assert {k: h[k] for k in common} == want
        assert abs(h["ts"] - t.ts) < 0.01, (h, t)
    received = Counter(e["event"] for e in out.events)
    assert out.total["events"] == {n: received[n] for n in
                                   out.total["events"]}


def test_bpf_programs_ran_once_per_event(out, trace):
    for prog, ev in PROGS.items():
        assert out.stats[prog]["run_cnt"] == len(by_name(trace, ev)), prog


@pytest.mark.exact('reported bytes', a='hintstat --prom file',
                   b='hintstat -j totals',
                   independent=False, why='one process, one set of counters, two printers')
def test_prometheus_file_matches_the_totals(hs_run, out):
    prom = hs_run.file("hintstat.prom")
    check_metrics(prom)         # promtool: the live tracepoint mode's text
    vals = dict(re.findall(r"^(pagehint_\w+_total) (\d+)$", prom, re.M))
    assert int(vals["pagehint_passes_total"]) == out.total["passes"]
    assert int(vals["pagehint_pass_bytes_total"]) == out.total["bytes"]
    hinted = re.findall(r'^pagehint_hinted_bytes_total\{zone="(\w+)",'
                        r'order="(\d+)"\} (\d+)$', prom, re.M)
    assert {(z, int(o)): int(v) for z, o, v in hinted} == \
        {(z["zone"], z["order"]): z["bytes"] for z in out.total["zones"]}
    count = re.search(r"^pagehint_pass_duration_seconds_count (\d+)$", prom, re.M)
    assert int(count.group(1)) == out.total["passes"]


def test_text_tables_fit_and_add_up(hs_run, out):
    assert hs_run.file("hintstat-text.rc").strip() == "0"
    text = hs_run.file("hintstat.txt")
    for line in text.splitlines():
        assert len(line) < 80, line
    rows = re.findall(r"^TOTAL\s+([\d.]+)\s", text, re.M)
    hinted = sum(z["bytes"] for z in out.total["zones"]) / MIB
    assert rows and abs(sum(float(r) for r in rows) - hinted) <= 0.001 * len(rows)
    assert re.search(r"^pass duration \(ns\): count [1-9]", text, re.M)


@pytest.mark.exact('durations', a='hintstat -H -Z histograms',
                   b='tracefs events',
                   independent=False, why='both read the same tracepoints')
def test_per_zone_histograms_equal_the_trace(hs_run, out, trace):
    """-H -Z: the fill, react and drain histograms per zone."""
    text = hs_run.file("hintstat.txt")
    want = trace_zone_counts(trace)
    assert want and zone_hist_counts(text) == want
    # Not split: one pass walks every zone.
    assert not re.search(r"^pass duration, zone", text, re.M)


def test_guest_usage_error(hs_run):
    assert hs_run.file("badarg.rc").strip() == "2"
    err = hs_run.file("badarg.err").splitlines()
    assert err[0] == "hintstat: invalid interval '-1': want seconds, 0.001 to 86400"
    assert len(err) == 2 and "--help" in err[1]


@pytest.mark.exact('reported bytes', a='hintstat report of a record',
                   b="hintstat's live BPF totals",
                   independent=False, why='both run tools/hintstat/aggregate.h on the same events')
def test_record_report_equals_the_live_bpf_totals(hs_run, out):
    """The same events aggregated by the BPF programs (record's live -j
    view) and by hintstat report in user space (the same aggregate.h)."""
    for name in ("record.rc", "report.rc"):
        assert hs_run.file(name).strip() == "0", hs_run.file(name[:-3] + ".err")
    live = [json.loads(l) for l in hs_run.file("record.json").splitlines()]
    live = [o for o in live if "interval_s" in o][-1]["total"]
    rep = json.loads(hs_run.file("report.json"))
    assert rep["mode"] == "tracepoints" and rep["record"]["complete"]
    assert rep["total"] == live
    assert live["dropped_events"] == 0
    # Attached before the window and stopped with -j -e: the same passes.
    for k in ("passes", "batches", "bytes", "fills", "reacts", "drains",
              "cycles", "zones"):
        assert live[k] == out.total[k], k


@pytest.mark.exact('passes', a='workqueue_execute_start/end tracepoints (hintstat --mode workqueue)',
                   b='page_hinting_pass events',
                   independent=True, why='two different tracepoints, one in the workqueue core, one in the series')
def test_workqueue_mode_passes_equal_the_trace(hs_run, trace):
    """--mode workqueue over the same window: its passes come from the
    workqueue tracepoints (page_reporting_process work items), the
    trace's from page_hinting_pass; each work item encloses its pass, so
    its duration is at least the event's."""
    assert hs_run.file("workqueue.rc").strip() == "0", hs_run.file("workqueue.err")
    assert "hintstat: mode: tracepoint-only (workqueue, kpageflags)" in \
        hs_run.file("workqueue.err")
    lines = [json.loads(l) for l in hs_run.file("workqueue.json").splitlines()]
    total = lines[-1]["total"]
    passes = by_name(trace, "pass")
    assert total["passes"] == len(passes) >= 1
    assert sum(o["hist_sum"]["pass_ns"] for o in lines) >= \
        sum(e["duration_ns"] for e in passes)
    for o in lines:
        assert o["mode"] == "workqueue"
        for k in ("bytes", "batches", "reacts", "requests", "fills"):
            assert o[k] is None and o["total"][k] is None, k
        assert o["hist"]["react_ns"] is None
        assert o["reported_now"]["bytes"] >= 0


@pytest.mark.exact('per-zone per-order counts', a='/proc/kpageflags scan (PG_reported as KPF_UPTODATE)',
                   b="zoneinfo 'reported' counters",
                   independent=True, why="page flags read from user space vs the series' counters")
def test_kpageflags_scan_equals_the_series_counts(hs_run):
    """The workqueue mode reads reported blocks from /proc/kpageflags and
    infers each block's order from the buddy layout; the series counts
    them exactly per zone and order. Taken back to back while reporting
    is idle: equal, block for block."""
    scan, want = kpageflags_vs_zoneinfo(hs_run)
    assert sum(want.values()) >= FREE_MIB * MIB // 2
    assert scan == want
