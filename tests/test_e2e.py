"""End to end: the patched kernel under QEMU with a real free-page-reporting
virtio-balloon. The independent truth is the QEMU process's RSS on the
host: memory the guest reports must leave it.
"""
import re

import pytest

import tracefile
from conftest import FREE_MIB, run_vm

pytestmark = pytest.mark.vm

FREED_KIB = FREE_MIB * 1024
MIB = 1 << 20


def after_free(run):
    """page_hinting events from memhog's free on.

    memhog marks "freed" once munmap() returns, and the free's request
    event fires inside munmap(): count from "touched" (memory held, before
    the free; nothing else runs in the guest meanwhile)."""
    t = run.marker_guest_s("touched.1")
    return [e for e in run.events() if e.ts >= t]


def test_patched_kernel_boots_with_page_hinting_events(kernel, initrd):
    run = run_vm("boot-patched", kernel, initrd, "boot", timeout=120)
    run.assert_clean()
    assert run.file("uname").startswith("6.12.")
    assert run.has("has_events"), "no events/page_hinting in tracefs"
    assert 0 < run.r["guest_boot_s"] < 60


@pytest.mark.exact('batches', a="fill events' entries",
                   b="react and drain events' entries",
                   independent=False, why='three events of the same batch')
def test_fill_react_drain_fire_and_agree(oneshot_patched):
    run = oneshot_patched
    run.assert_clean()
    assert tracefile.lost_events(run.file("trace.txt")) == 0
    events = after_free(run)
    names = {e.name for e in events}
    assert {"fill", "react", "drain", "pass", "cycle", "request"} <= names
    groups = tracefile.passes(events)
    nbatches = 0
    for p, bs in groups:
        for b in bs:
            f, r, d = b.fill, b.react, b.drain
            # The same batch all the way through.
            assert f["entries"] == r["entries"] == d["entries"]
            assert 1 <= f["entries"] <= 32
            assert f["bytes"] == r["bytes"]
            # Entries are whole pages of at least the reporting order.
            assert f["bytes"] % (4096 << 9) == 0
            assert f["bytes"] >= f["entries"] * (4096 << 9)
            if r["err"] == 0:
                assert d["reported"] + d["merged"] == d["entries"]
            else:
                assert d["reported"] == 0
            assert d["err"] == r["err"]
        nbatches += len(bs)
        if p is not None:
            # The pass summary agrees with the batches it ran.
            assert p["batches"] == len(bs)
            assert p["bytes"] == sum(b.react["bytes"] for b in bs
                                     if b.react["err"] == 0)
            assert p["failed_bytes"] == sum(b.react["bytes"] for b in bs
                                            if b.react["err"] != 0)
    assert nbatches >= 1
    # The last pass went idle, which is what ended the scenario.
    assert groups[-1][0] is not None and groups[-1][0]["requeued"] == 0


def test_host_rss_drops_by_80_percent_of_freed(oneshot_patched):
    run = oneshot_patched
    run.assert_clean()
    drop = run.rss_drop_kib()
    assert drop >= 0.8 * FREED_KIB, \
        f"host RSS fell {drop // 1024} MiB after freeing {FREE_MIB} MiB"


def test_guest_ram_mapping_holds_the_rss_drop(oneshot_patched):
    """The runner's split of QEMU's RSS (the bench's ram_mib and
    vmm_own_mib): the guest RAM mapping's Rss, a page-table walk of that
    one mapping in /proc/PID/smaps, falls by what VmRSS (the mm's RSS
    counters, another mechanism) falls after the free, within 5 %: the
    discards land in the guest RAM. It stays within VmRSS at every sample
    (2 MiB of slack: the two reads are not atomic), and QEMU's own
    memory, VmRSS above it, is positive."""
    run = oneshot_patched
    run.assert_clean()
    ram = run.r["ram_rss"]
    assert len(ram) >= 10, f"{len(ram)} samples of the guest RAM's Rss"

    def ram_at(t):
        return [k for ts, k in ram if ts <= t][-1]

    for ts, k in ram:
        assert k <= run.rss_at(ts) + 2048, (ts, k, run.rss_at(ts))
    drop = (ram_at(run.marker_host("freed.1"))
            - ram_at(run.marker_host("idle")))
    assert abs(drop - run.rss_drop_kib()) <= 0.05 * run.rss_drop_kib(), \
        (drop, run.rss_drop_kib())
    t_idle = run.marker_host("idle")
    assert run.rss_at(t_idle) - ram_at(t_idle) > 0


def test_reported_bytes_cover_the_rss_drop(oneshot_patched):
    run = oneshot_patched
    run.assert_clean()
    reported = sum(e["bytes"] for e in after_free(run)
                   if e.name == "react" and e["err"] == 0)
    # Pages the host never backed can be reported too: >=, not ==.
    assert reported >= run.rss_drop_kib() * 1024, \
        f"reported {reported / MIB:.0f} MiB < drop {run.rss_drop_kib() / 1024:.0f} MiB"


def test_zone_lock_hold_times_are_measured_and_bounded(oneshot_patched):
    run = oneshot_patched
    run.assert_clean()
    # After the free: passes that began with the events already enabled
    # (an event enabled mid-pass reports 0 for what it did not see start).
    groups = [(p, bs) for p, bs in tracefile.passes(after_free(run)) if p]
    assert sum(len(bs) for _, bs in groups) >= 1
    for p, bs in groups:
        assert p["duration_ns"] > 0
        for b in bs:
            assert 0 < b.fill["lock_ns"] < p["duration_ns"]
            assert 0 < b.drain["lock_ns"] < p["duration_ns"]
            assert 0 < b.react["duration_ns"] < p["duration_ns"]
            # Held locks and the device call do not overlap.
            assert b.fill["lock_ns"] + b.react["duration_ns"] + \
                b.drain["lock_ns"] <= p["duration_ns"]


def test_events_off_no_events_and_same_reclaim_as_stock(oneshot_patched_off,
                                                        oneshot_stock):
    off, stock = oneshot_patched_off, oneshot_stock
    off.assert_clean()
    stock.assert_clean()
    assert off.has("has_events")
    assert not stock.has("has_events")
    trace = off.file("trace.txt")
    assert not re.search(r" page_hinting_\w+:", trace)
    # Both reclaim what the guest freed, within 10 % of each other.
    assert off.rss_drop_kib() >= 0.8 * FREED_KIB
    assert abs(off.rss_drop_kib() - stock.rss_drop_kib()) <= 0.1 * FREED_KIB


def test_stock_debian_kernel_reclaims(oneshot_stock):
    run = oneshot_stock
    run.assert_clean()
    assert "+deb12-amd64" in run.file("uname")
    drop = run.rss_drop_kib()
    assert drop >= 0.8 * FREED_KIB, \
        f"stock kernel: host RSS fell {drop // 1024} MiB of {FREE_MIB} MiB"
