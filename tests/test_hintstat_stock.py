"""hintstat's fallback mode end to end, on Debian's stock 6.12 kernel (no
pagehint series): in the guest, hintstat -j (fentry on
page_reporting_process and virtio-balloon's report callback) runs while
memhog frees 523 MiB. The independent truth is the host: a bpftrace
script on the syscall tracepoints, started before the VM boots and
stopped after it, sees every madvise(MADV_DONTNEED) / fallocate
(PUNCH_HOLE) QEMU makes. The bytes hintstat saw reported must equal the
bytes QEMU discarded inside the guest-RAM mapping during hintstat's
window, exactly. The same window is recorded with the kprobe fallback
(hintstat record --mode kprobe) and replayed with hintstat report, on
the host and in the guest: all must agree.
"""
import json
import os
import signal
import subprocess
import time
from collections import Counter

import pytest

from conftest import (BUILD, GUEST_MIB, RUNS, host_tracefs, need, run_vm,
                      trim_record)
from promlib import check_metrics

pytestmark = pytest.mark.vm

MIB = 1 << 20
FREE_MIB = 523
HINTSTAT = os.path.join(BUILD, "bin", "hintstat")
MADV_DONTNEED, MADV_REMOVE = 4, 9
FALLOC_FL_PUNCH_HOLE = 0x02
QEMU_COMM = "qemu-system-x86"   # comm is cut at 15 characters

BPFTRACE = r'''
BEGIN { printf("READY\n"); }
tracepoint:syscalls:sys_enter_madvise /comm == "%(comm)s"/ {
	printf("M %%d %%llu %%lu %%lu %%d\n", pid, nsecs, args->start,
	       args->len_in, args->behavior);
}
tracepoint:syscalls:sys_enter_fallocate /comm == "%(comm)s"/ {
	printf("F %%d %%llu %%d %%d %%lld %%lld\n", pid, nsecs, args->fd,
	       args->mode, args->offset, args->len);
}
''' % {"comm": QEMU_COMM}


class HostDiscards:
    """bpftrace on QEMU's discard syscalls, for the whole VM run."""

    def __init__(self, path):
        host_tracefs()
        self.path = path
        self.out = open(path, "w")
        self.proc = subprocess.Popen(
            [need("/usr/bin/bpftrace", "apt-get install bpftrace"), "-B", "none",
             "-e", BPFTRACE], stdout=self.out, stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with open(path) as f:
                if "READY" in f.read():
                    return
            if self.proc.poll() is not None:
                break
            time.sleep(0.2)
        self.stop()
        with open(path) as f:
            pytest.fail(f"bpftrace did not start: {f.read()}", pytrace=False)

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.out.close()

    def records(self):
        with open(self.path) as f:
            for line in f:
                p = line.split()
                if p and p[0] in ("M", "F") and len(p) == 6:
                    yield p[0], int(p[1]), int(p[2]) / 1e9, [int(x) for x in p[3:]]


class QemuWatch:
    """on_sample callback: finds this run's QEMU, its guest-RAM mapping,
    and the runner's clock origin (markers are seconds since it)."""

    def __init__(self, share, mem_mib):
        self.share, self.size = share, mem_mib * MIB
        self.pid = self.ram = self.t0 = self.error = None

    def find_pid(self):
        for d in os.listdir("/proc"):
            if not d.isdigit():
                continue
            try:
                with open(f"/proc/{d}/cmdline", "rb") as f:
                    cmd = f.read().split(b"\0")
            except OSError:
                continue
            if cmd and cmd[0].endswith(b"qemu-system-x86_64") and \
                    any(self.share.encode() in a for a in cmd):
                return int(d)
        return None

    def find_ram(self):
        anon = []
        with open(f"/proc/{self.pid}/maps") as f:
            for line in f:
                p = line.split()
                lo, hi = (int(x, 16) for x in p[0].split("-"))
                if len(p) == 5 or p[5].startswith("["):    # anonymous
                    anon.append((lo, hi))
        exact = [m for m in anon if m[1] - m[0] == self.size]
        return exact[0] if len(exact) == 1 else None

    def __call__(self, now, rss, markers):
        if self.t0 is None:
            self.t0 = time.monotonic() - now
        if self.ram is not None or "boot" not in markers:
            return
        try:
            self.pid = self.find_pid()
            if self.pid:
                self.ram = self.find_ram()
        except OSError as e:    # never break the run; retried next sample
            self.error = str(e)


@pytest.fixture(scope="module")
def stock_run(stock):
    need(HINTSTAT, "make tools")
    name = "hintstat-stock"
    os.makedirs(os.path.join(RUNS, name), exist_ok=True)
    watch = QemuWatch(os.path.join(RUNS, name, "share"), GUEST_MIB)
    host = HostDiscards(os.path.join(RUNS, name, "bpftrace.txt"))
    try:
        run = run_vm(name, stock[0], stock[1], "hintstat-stock",
                     {"MIB": FREE_MIB}, timeout=900, on_sample=watch)
    finally:
        host.stop()
    run.assert_clean()
    assert watch.pid == run.r["qemu_pid"], "found another QEMU"
    assert watch.ram, f"no anonymous mapping of {GUEST_MIB} MiB in QEMU ({watch.error})"
    return run, watch, host


def json_lines(run, name):
    return [json.loads(l) for l in run.file(name).splitlines()]


def totals(run, name):
    lines = [o for o in json_lines(run, name) if "interval_s" in o]
    assert len(lines) >= 2, name
    return lines, lines[-1]["total"]


def minus(total, base):
    """A -j total minus an earlier one: counters and zone rows (by zone
    and order); null stays null."""
    def num(v):
        return isinstance(v, int) and not isinstance(v, bool)
    out = {k: v - base[k] if num(v) and num(base.get(k)) else v
           for k, v in total.items() if k != "zones"}
    before = {(z["zone"], z["order"]): z for z in base["zones"]}
    out["zones"] = []
    for z in total["zones"]:
        b = before.get((z["zone"], z["order"]), {})
        d = {k: v - b.get(k, 0) if num(v) and k not in ("zone_idx", "order")
             else v for k, v in z.items()}
        if d["bytes"] or d["batches"] or d["failed_bytes"]:
            out["zones"].append(d)
    return out


def fentry_window(run):
    """The fentry run over the window: (its interval lines, its totals,
    its events) after the interval lines window-start counts. It attached
    before the window, and a pass can come in between (the watcher's exit
    freed memory); the scenario waits for reporting to idle, then starts
    the window."""
    n = int(run.file("window-start"))
    lines, events, seen, base = [], [], 0, None
    for o in json_lines(run, "hintstat.json"):
        if "interval_s" in o:
            seen += 1
            if seen == n:
                base = o["total"]
            elif seen > n:
                lines.append(o)
        elif seen >= n:
            events.append(o)
    assert base is not None and len(lines) >= 2, (n, seen)
    print(f"before the window: {base['passes']} passes, {base['bytes']} bytes")
    return lines, minus(lines[-1]["total"], base), events


def test_window_totals_subtract():
    base = {"passes": 1, "bytes": 4, "fills": None, "zones": [
        {"zone": "DMA32", "zone_idx": 1, "order": 9, "bytes": 4,
         "failed_bytes": 0, "entries": 2, "batches": 1}]}
    total = {"passes": 3, "bytes": 12, "fills": None, "zones": [
        {"zone": "DMA32", "zone_idx": 1, "order": 9, "bytes": 4,
         "failed_bytes": 0, "entries": 2, "batches": 1},
        {"zone": "DMA32", "zone_idx": 1, "order": 10, "bytes": 8,
         "failed_bytes": 0, "entries": 2, "batches": 1}]}
    d = minus(total, base)
    assert d["passes"] == 2 and d["bytes"] == 8 and d["fills"] is None
    assert [(z["order"], z["bytes"], z["entries"]) for z in d["zones"]] == \
        [(10, 8, 2)]


def test_modes_are_said(stock_run):
    run, _, _ = stock_run
    assert run.file("mode").strip() == "mode: fallback (fentry)"
    assert "hintstat: mode: fallback (kprobe)" in run.file("record.err")
    for name in ("watch.rc", "hintstat.rc", "record.rc", "report.rc"):
        assert run.file(name).strip() == "0", (name, run.file(name[:-3] + ".err"))


@pytest.mark.exact('reported bytes', a='guest hintstat fallback (fentry)',
                   b="host bpftrace on QEMU's madvise/fallocate",
                   independent=True, why="the guest's device calls vs the host's syscalls")
def test_fallback_bytes_equal_host_discards(stock_run):
    run, watch, host = stock_run
    _, t, _ = fentry_window(run)
    lo, hi = watch.ram
    start = watch.t0 + run.marker_host("window-start")
    end = watch.t0 + run.marker_host("window-end")
    inside = outside = punched = 0
    for kind, pid, ts, a in host.records():
        if pid != watch.pid or not start <= ts <= end:
            continue
        if kind == "M" and a[2] in (MADV_DONTNEED, MADV_REMOVE):
            s, n = a[0], a[1]
            overlap = max(0, min(s + n, hi) - max(s, lo))
            inside += overlap
            outside += n - overlap
        elif kind == "F" and a[1] & FALLOC_FL_PUNCH_HOLE:
            punched += a[3]
    discarded = inside + punched
    print(f"hintstat (fentry): {t['bytes']} bytes in {t['passes']} passes, "
          f"{t['batches']} batches; host: {inside} bytes madvised inside guest "
          f"RAM, {punched} punched, {outside} outside")
    assert t["bytes"] >= FREE_MIB * MIB // 2, "the free was not reported"
    assert t["bytes"] == discarded
    assert t["failed_bytes"] == 0 and t["react_errors"] == 0
    assert t["batches"] == t["reacts"]


@pytest.mark.exact('batches', a="guest fallback's batch bytes and orders",
                   b="QEMU's madvise calls cut by the batches' entry counts",
                   independent=True, why='guest function arguments vs host syscalls')
def test_fallback_zone_and_order_equal_the_host_discards(stock_run):
    """The fallback places each batch by its first scatterlist entry:
    order from its length, zone from its pfn. QEMU discards the entries
    of a batch in order, one madvise of each entry's length, batch after
    batch; cut the host's calls by hintstat's entry counts (-e) and each
    batch's bytes and first call's size must be the react's, exactly."""
    run, watch, host = stock_run
    _, t, events = fentry_window(run)
    reacts = [o for o in events if o.get("event") == "react"]
    lo, hi = watch.ram
    start = watch.t0 + run.marker_host("window-start")
    end = watch.t0 + run.marker_host("window-end")
    calls = sorted((ts, a[1]) for kind, pid, ts, a in host.records()
                   if pid == watch.pid and start <= ts <= end and
                   kind == "M" and a[2] in (MADV_DONTNEED, MADV_REMOVE) and
                   lo <= a[0] < hi)
    assert len(reacts) == t["reacts"] >= 2
    assert sum(r["entries"] for r in reacts) == len(calls)
    per_order = Counter()
    for r in reacts:
        batch, calls = calls[:r["entries"]], calls[r["entries"]:]
        first = batch[0][1] // 4096
        assert r["bytes"] == sum(n for _, n in batch), r
        assert r["order"] == first.bit_length() - 1 and \
            first == 1 << r["order"], (r, batch[0])
        assert r["zone"] in ("DMA", "DMA32"), r   # a 1 GiB guest
        per_order[r["zone"], r["order"]] += r["bytes"]
    assert t["unattributed"] == 0
    assert {(z["zone"], z["order"]): z["bytes"] for z in t["zones"]} == \
        dict(per_order)
    assert sum(z["batches"] for z in t["zones"]) == t["batches"]


def test_fallback_shows_null_for_what_it_cannot_measure(stock_run):
    run, _, _ = stock_run
    lines, t = totals(run, "hintstat.json")
    for o in lines:
        assert o["mode"] == "fentry"
        for k in ("requests", "fills", "drains", "cycles", "out_of_range"):
            assert o[k] is None and o["total"][k] is None, k
        assert o["hist"]["fill_lock_ns"] is None
        assert o["hist"]["drain_lock_ns"] is None
        assert o["percentiles"]["drain_lock_ns"] == {"p50": None, "p99": None}
    passes = sum(b["count"] for o in lines for b in o["hist"]["pass_ns"])
    reacts = sum(b["count"] for o in lines for b in o["hist"]["react_ns"])
    assert passes == t["passes"] >= 1 and reacts == t["reacts"] >= 1


def in_fentry_window(run, rec, tmp_path):
    """The totals of record rec over the fentry run's window only: the
    recorders ran longer (attached first, stopped last) and a pass may
    come in between, so compare over the window both saw, cut out of
    the record by the events' own times (guest CLOCK_MONOTONIC, as the
    fentry run's ts)."""
    lines, _, _ = fentry_window(run)
    lo = lines[0]["ts"] - lines[0]["interval_s"]
    hi = lines[-1]["ts"]
    window = tmp_path / ("window-" + rec)
    trim_record(os.path.join(run.out, rec), window, int(lo * 1e9),
                int(hi * 1e9))
    p = subprocess.run([HINTSTAT, "report", "-j", str(window)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout)["total"]


@pytest.mark.exact('reported bytes', a='kprobe recorder (record + report)',
                   b='fentry live view',
                   independent=False, why='kprobes and fentry hook the same functions; report runs aggregate.h')
def test_kprobe_record_and_reports_agree(stock_run, tmp_path):
    run, _, _ = stock_run
    _, fentry, _ = fentry_window(run)
    _, live = totals(run, "record.json")
    assert all(o["mode"] == "kprobe" for o in json_lines(run, "record.json"))
    seen = in_fentry_window(run, "hintstat.rec", tmp_path)
    for k in ("passes", "batches", "bytes", "failed_bytes", "reacts"):
        assert seen[k] == fentry[k], k
    assert live["passes"] >= fentry["passes"] >= 1
    # Its record, replayed in the guest and on the host, gives the totals
    # its live view printed.
    host = subprocess.run([HINTSTAT, "report", "-j",
                           os.path.join(run.out, "hintstat.rec")],
                          capture_output=True, text=True, timeout=60)
    assert host.returncode == 0, host.stderr
    for text in (run.file("report.json"), host.stdout):
        rep = json.loads(text)
        assert rep["mode"] == "kprobe" and rep["record"]["complete"]
        assert rep["total"] == live
        assert rep["total"]["dropped_events"] == 0


def test_prometheus_over_http(stock_run):
    run, _, _ = stock_run
    assert run.file("wget.rc").strip() == "0"
    assert run.file("wget404.rc").strip() != "0"
    assert "404" in run.file("wget404.err")
    assert run.file("prom.rc").strip() == "0"
    m = run.file("metrics.txt")
    check_metrics(m)            # promtool: the live fallback mode's text
    assert "# TYPE pagehint_passes_total counter" in m
    assert "pagehint_pass_duration_seconds_count" in m
    # Fallback: per zone/order series (placed by the first page of each
    # batch), no lock hold histograms.
    assert "# TYPE pagehint_hinted_bytes_total counter" in m
    assert "pagehint_fill_lock_hold_seconds" not in m


@pytest.mark.exact('passes', a='workqueue tracepoints (tp_btf)',
                   b='fentry on page_reporting_process',
                   independent=True, why='a workqueue tracepoint vs a function hook')
def test_workqueue_mode_passes_equal_the_fentry_passes(stock_run, tmp_path):
    """The tracepoint-only mode (workqueue tracepoints, no fentry or
    kprobe), forced on the same kernel and recorded over a window
    enclosing the fentry run's: over the fentry run's window the same
    passes, counted independently (fentry on page_reporting_process vs
    tp_btf on the workqueue)."""
    run, _, _ = stock_run
    assert run.file("workqueue.rc").strip() == "0", run.file("workqueue.err")
    assert "hintstat: mode: tracepoint-only (workqueue, kpageflags)" in \
        run.file("workqueue.err")
    lines, wq = totals(run, "workqueue.json")
    _, fentry, _ = fentry_window(run)
    seen = in_fentry_window(run, "workqueue.rec", tmp_path)
    assert seen["passes"] == fentry["passes"] >= 1
    assert wq["passes"] >= fentry["passes"]
    for o in lines:
        assert o["mode"] == "workqueue"
        assert o["bytes"] is None and o["total"]["batches"] is None
        assert o["reported_now"] is not None


@pytest.mark.exact('reported bytes', a='/proc/kpageflags scan in the guest',
                   b="QEMU's discards on the host",
                   independent=True, why='guest page flags vs host syscalls')
def test_workqueue_reported_bytes_match_host_discards(stock_run):
    """After one free and no reallocation, the memory /proc/kpageflags
    shows reported rose by what QEMU discarded inside guest RAM over the
    window, within 2 % (a reported block that merges with a newly freed
    buddy loses its flag and is reported, so discarded, again). The rise
    is taken from the lowest reading, while memhog held its memory."""
    run, watch, host = stock_run
    lines, _ = totals(run, "workqueue.json")
    now = [o["reported_now"]["bytes"] for o in lines]
    rise = now[-1] - min(now)
    lo, hi = watch.ram
    start = watch.t0 + run.marker_host("window-start")
    end = watch.t0 + run.marker_host("window-end")
    discarded = 0
    for kind, pid, ts, a in host.records():
        if pid == watch.pid and start <= ts <= end and kind == "M" and \
                a[2] in (MADV_DONTNEED, MADV_REMOVE):
            discarded += max(0, min(a[0] + a[1], hi) - max(a[0], lo))
    print(f"kpageflags: reported {min(now)} -> {now[-1]} bytes (+{rise}); "
          f"host: {discarded} bytes discarded inside guest RAM")
    assert discarded >= FREE_MIB * MIB // 2
    assert abs(rise - discarded) <= 0.02 * discarded
