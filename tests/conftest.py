"""Shared fixtures: built artefacts and VM runs reused across tests.

A VM run is expensive under TCG, so each scenario configuration boots once
per session and the tests assert different properties of its results.
Missing artefacts fail loudly (never skip): `make test` builds them first.
"""
import json
import os
import re
import subprocess
import sys
from collections import Counter

import pytest

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "vm"))

import pagehint_vm  # noqa: E402
import tracefile  # noqa: E402

BUILD = os.environ.get("BUILD", os.path.join(TOP, "build"))
KERNEL = os.path.join(BUILD, "kernel-default", "arch", "x86", "boot", "bzImage")
INITRD = os.path.join(BUILD, "guest", "initramfs.cpio.gz")
STOCK_KERNEL = os.path.join(BUILD, "stock", "vmlinuz")
STOCK_INITRD = os.path.join(BUILD, "stock", "initramfs.cpio.gz")
RUNS = os.path.join(BUILD, "runs")
MEMHOG = os.path.join(BUILD, "bin", "memhog")

# The acceptance workload: a 1 GiB guest allocates and frees 600 MiB.
GUEST_MIB = 1024
FREE_MIB = 600


# Per-test limits (pytest-timeout, see pytest.ini), setup included: a VM
# fixture boots under TCG within its own timeout (900 s at most) and may
# start again on a broken clock; patch checks extract a kernel tree.
VM_TIMEOUT_S = 2400
KERNEL_TIMEOUT_S = 1200


def pytest_terminal_summary(terminalreporter):
    """The fuzz targets' counts (executions, crashes), which pytest would
    hide with the rest of a passing test's output."""
    lines = [v for key in ("passed", "failed")
             for rep in terminalreporter.stats.get(key, [])
             if getattr(rep, "when", None) == "call"
             for k, v in getattr(rep, "user_properties", []) if k == "fuzz"]
    if lines:
        terminalreporter.section("fuzzing")
        for line in lines:
            terminalreporter.write_line(line)


def pytest_collection_modifyitems(config, items):
    # The fuzzers last: under ASan they take and free GiBs, which this
    # machine then reports to its own host for a while, and
    # test_hintstat_fieldhost measures that reporting.
    items.sort(key=lambda i: i.nodeid.startswith("tests/test_fuzz.py") or
               i.nodeid.startswith("test_fuzz.py"))
    for item in items:
        if item.get_closest_marker("timeout"):
            continue
        if item.get_closest_marker("vm"):
            item.add_marker(pytest.mark.timeout(VM_TIMEOUT_S))
        elif item.get_closest_marker("kernel"):
            item.add_marker(pytest.mark.timeout(KERNEL_TIMEOUT_S))


def need(path, how):
    if not os.path.exists(path):
        pytest.fail(f"{path} missing (hint: {how})", pytrace=False)
    return path


def host_tracefs():
    """The host's syscall tracepoints, for bpftrace: a fresh machine may
    not have tracefs mounted (hintstat host mounts it itself, bpftrace
    does not), so mount it the way the README's hint says."""
    events = "/sys/kernel/tracing/events/syscalls"
    if not os.path.isdir(events):
        subprocess.run(["mount", "-t", "tracefs", "nodev", "/sys/kernel/tracing"],
                       capture_output=True)
    if not os.path.isdir(events):
        pytest.fail("no syscall tracepoints in tracefs (hint: mount -t "
                    "tracefs nodev /sys/kernel/tracing)", pytrace=False)


def zoneinfo_reported(text, page=4096):
    """{(zone, order): bytes} from the series' zoneinfo "reported" lines
    (reported blocks per order, as in buddyinfo)."""
    out, zone = {}, None
    for line in text.splitlines():
        w = line.split()
        if w and w[0] == "Node":
            zone = w[3]
        elif w and w[0] == "reported":
            for order, n in enumerate(int(x) for x in w[1:]):
                if n:
                    out[zone, order] = n * (page << order)
    return out


def kpageflags_vs_zoneinfo(run):
    """(scan, counts): {(zone, order): bytes} from hintstat --mode
    workqueue --exact-orders' /proc/kpageflags scan (every page of a
    block read: three samples of it took a reported order-9 block next to
    a mostly free buddy for order 10, once in CI) and from the series'
    zoneinfo, for the first of lib.sh kpf_vs_zoneinfo's tries whose
    zoneinfo did not change while hintstat ran."""
    for n in range(1, 9):
        if not run.has(f"zoneinfo-{n}-before"):
            break
        before = run.file(f"zoneinfo-{n}-before")
        if before != run.file(f"zoneinfo-{n}-after"):
            continue
        o = json.loads(run.file(f"kpf-{n}.json").splitlines()[-1])
        scan = {(z["zone"], z["order"]): z["bytes"]
                for z in o["reported_now"]["zones"]}
        want = zoneinfo_reported(before)
        print(f"try {n}: kpageflags {scan}; zoneinfo {want}")
        assert o["reported_now"]["bytes"] == sum(scan.values())
        assert o["reported_now"]["exact_orders"] is True
        return scan, want
    pytest.fail("the reported counts changed during every scan", pytrace=False)


ZONE_HISTS = {"fill lock hold": "fill", "react (device call)": "react",
              "drain lock hold": "drain"}


def zone_hist_counts(text):
    """hintstat -H -Z text: {(event, zone): count} over all intervals."""
    got = Counter()
    for title, zone, n in re.findall(r"^(.+), zone (\w+) \(ns\): count (\d+)$",
                                     text, re.M):
        assert title in ZONE_HISTS, title
        got[ZONE_HISTS[title], zone] += int(n)
    return +got


def trace_zone_counts(events):
    """The same from the trace: fill by its zone; react and drain by the
    zone of the fill before them (one work item reports, so the trace is
    in batch order)."""
    want, zone = Counter(), None
    for e in events:
        if e.name == "fill":
            zone = e["zone"]
        if e.name in ("fill", "react", "drain"):
            want[e.name, zone] += 1
    return want


ZO_KEYS = ("bytes", "failed_bytes", "entries", "batches")


def trace_batch_counts(events):
    """{(zone, order): Counter} of the trace's batches, each by the last
    fill before its react (the free list that completed it)."""
    want = {}
    for b in tracefile.batches(events):
        c = want.setdefault((b.fill["zone"], b.fill["order"]), Counter())
        ok = b.react["err"] == 0
        c["bytes"] += b.react["bytes"] if ok else 0
        c["failed_bytes"] += 0 if ok else b.react["bytes"]
        c["entries"] += b.react["entries"]
        c["batches"] += 1
    return {k: +c for k, c in want.items()}


def hintstat_zone_counts(total):
    """The same from a hintstat -j "total" object."""
    return {(z["zone"], z["order"]): Counter({k: z[k] for k in ZO_KEYS if z[k]})
            for z in total["zones"]}


# hintstat record files (tools/hintstat/record.h): a 512-byte header,
# then 64-byte records whose first field is the event's CLOCK_MONOTONIC
# ns and whose type (offset 32) is an event below 0x100, else a mark.
REC_HEADER = 512
REC_SIZE = 64


def trim_record(src, dst, lo_ns, hi_ns):
    """Copy record src to dst with only the events in [lo_ns, hi_ns] (the
    marks kept): what a recorder saw over another tool's window, for
    hintstat report to aggregate. Returns the events kept."""
    with open(src, "rb") as f:
        data = f.read()
    assert (len(data) - REC_HEADER) % REC_SIZE == 0, src
    out, kept = [data[:REC_HEADER]], 0
    for off in range(REC_HEADER, len(data), REC_SIZE):
        rec = data[off:off + REC_SIZE]
        ts = int.from_bytes(rec[:8], "little")
        typ = int.from_bytes(rec[32:36], "little")
        if typ >= 0x100 or lo_ns <= ts <= hi_ns:
            out.append(rec)
            kept += typ < 0x100
    with open(dst, "wb") as f:
        f.write(b"".join(out))
    return kept


REC_PASS = 5         # enum hint_event_type's pass: ns is its duration


def record_passes(path):
    """(ts, duration ns) of each pass event of a record, read from its
    bytes, not through hintstat."""
    with open(path, "rb") as f:
        data = f.read()
    out = []
    for off in range(REC_HEADER, len(data), REC_SIZE):
        rec = data[off:off + REC_SIZE]
        if int.from_bytes(rec[32:36], "little") == REC_PASS:
            out.append((int.from_bytes(rec[:8], "little"),
                        int.from_bytes(rec[16:24], "little")))
    return out


class VmRun:
    """A finished VM run: result.json plus the files the guest wrote."""

    def __init__(self, result):
        self.r = result
        self.out = result["outdir"]

    def file(self, name):
        with open(os.path.join(self.out, name), errors="replace") as f:
            return f.read()

    def has(self, name):
        return os.path.exists(os.path.join(self.out, name))

    def assert_clean(self):
        """The run completed and the guest kernel log has no splat."""
        r = self.r
        assert not r["timed_out"], f"VM timed out, see {r['out']}"
        assert r["guest_rc"] == 0, f"{r.get('error')}\n{self.file('scenario.log')}"
        assert not r["splats"], f"kernel log splat: {r['splats']}"

    def assert_kasan(self):
        """The guest ran with KASAN (the debug kernel), so assert_clean()'s
        "no splat" also says KASAN reported nothing."""
        with open(os.path.join(self.r["out"], "console.log"), errors="replace") as f:
            console = f.read()
        assert "KernelAddressSanitizer initialized" in console, \
            "the debug kernel runs without KASAN (kernel/config/debug.config)"

    def events(self):
        return tracefile.parse(self.file("trace.txt"))

    def marker_host(self, name):
        return self.r["markers"][name]

    def marker_guest_s(self, name):
        return int(self.file(name)) / 1e9

    def rss_at(self, t):
        """Host RSS (KiB) of the last sample at or before host time t."""
        before = [k for ts, k in self.r["rss"] if ts <= t]
        return before[-1]

    def rss_drop_kib(self):
        """RSS at the free minus RSS once the guest said reporting idled."""
        return (self.rss_at(self.marker_host("freed.1"))
                - self.rss_at(self.marker_host("idle")))


def run_vm(name, kernel, initrd, scenario, env=None, timeout=600,
           mem=GUEST_MIB, **kw):
    out = os.path.join(RUNS, name)
    r = pagehint_vm.run(kernel, initrd, scenario, out, mem=mem,
                        timeout=timeout, env=env or {}, **kw)
    with open(os.path.join(out, "result.json")) as f:
        assert json.load(f)["scenario"] == scenario
    return VmRun(r)


@pytest.fixture(scope="session")
def kernel():
    return need(KERNEL, "make kernel")


@pytest.fixture(scope="session")
def initrd():
    return need(INITRD, "make guest")


@pytest.fixture(scope="session")
def stock():
    return (need(STOCK_KERNEL, "make stock"), need(STOCK_INITRD, "make stock"))


@pytest.fixture(scope="session")
def oneshot_patched(kernel, initrd):
    return run_vm("oneshot-patched", kernel, initrd, "oneshot",
                  {"MIB": FREE_MIB, "EVENTS": 1})


@pytest.fixture(scope="session")
def oneshot_patched_off(kernel, initrd):
    return run_vm("oneshot-patched-off", kernel, initrd, "oneshot",
                  {"MIB": FREE_MIB, "EVENTS": 0})


@pytest.fixture(scope="session")
def oneshot_stock(stock):
    return run_vm("oneshot-stock", stock[0], stock[1], "oneshot",
                  {"MIB": FREE_MIB, "EVENTS": 0})
