"""The kernel series beyond the tracepoints: exact reported-page counts,
/proc/vmstat lifetime counters, the tunables, and the KUnit suite, checked
in a guest against independent truths (a scan of the free lists under the
zone lock, the trace events, the values read back).
"""
import json
import os
import re

import pytest

import tracefile
from conftest import BUILD, kpageflags_vs_zoneinfo, run_vm, need, zoneinfo_reported

pytestmark = pytest.mark.vm

PAGE = 4096
DEBUG_KERNEL = os.path.join(BUILD, "kernel-debug", "arch", "x86", "boot", "bzImage")


def vmstat(text):
    return {k: int(v) for k, v in (l.split() for l in text.splitlines())}


def vm_delta(run, a, b):
    x, y = vmstat(run.file(a)), vmstat(run.file(b))
    return {k: y[k] - x[k] for k in y if k.startswith("page_hinting_")}


def check_table(text):
    """Rows of page_hinting/check and its mismatch count."""
    rows = [l.split() for l in text.splitlines()
            if l and not l.startswith(("#", "mismatches", "skipped"))]
    m = re.search(r"^mismatches (\d+)$", text, re.M)
    assert m, text
    assert re.search(r"^skipped 0$", text, re.M), text
    return rows, int(m[1])


def assert_counts_match_scan(text):
    rows, bad = check_table(text)
    assert bad == 0, [r for r in rows if r[5] != "ok"]
    assert rows, "no zones in the check"
    for node, zone, order, counted, scanned, status in rows:
        assert counted == scanned and status == "ok"
        # unsigned counters that went below zero would show as huge
        assert int(counted) < 1 << 40
    return sum(int(r[3]) << int(r[2]) for r in rows)


def ktap(dmesg, suite):
    """(suite ok?, {case: ok?}) from the KTAP lines of a kernel log."""
    lines = [re.sub(r"^\[\s*[\d.]+\]\s?", "", l) for l in dmesg.splitlines()]
    cases, suite_ok = {}, None
    for l in lines:
        m = re.match(r"^\s+(not ok|ok) \d+ (\S+)", l)
        if m and m[2].startswith(suite + "_test_"):
            cases[m[2]] = m[1] == "ok"
        m = re.match(r"^(not ok|ok) \d+ (\S+)$", l)
        if m and m[2] == suite:
            suite_ok = m[1] == "ok"
    return suite_ok, cases


def test_kunit_suite_passes(kernel, initrd):
    run = run_vm("kunit", kernel, initrd, "kunit", timeout=300,
                 balloon=False, append="kunit.enable=1")
    run.assert_clean()
    dmesg = run.file("dmesg.txt")
    suite_ok, cases = ktap(dmesg, "page_reporting")
    assert suite_ok is not None, "page_reporting suite did not run:\n" + dmesg[-3000:]
    failed = [c for c, ok in cases.items() if not ok]
    assert not failed, "\n".join(l for l in dmesg.splitlines()
                                 if "page_reporting" in l or "EXPECT" in l)
    assert suite_ok
    assert len(cases) == 13, cases
    # booted without a reporting device: nothing may be skipped
    assert "# SKIP" not in dmesg, [l for l in dmesg.splitlines() if "SKIP" in l]


@pytest.mark.exact('per-zone per-order counts', a="zoneinfo 'reported' counters",
                   b="debugfs check: a scan of the free lists' PageReported flags under the zone lock",
                   independent=True, why='counters kept on every free-list change vs flags read by a scan')
def test_reported_counts_equal_free_list_scan(oneshot_patched):
    run = oneshot_patched
    run.assert_clean()
    reported_pages = assert_counts_match_scan(run.file("check"))
    # Most of an idle 1 GiB guest's free memory ends up reported.
    assert reported_pages * PAGE >= 400 << 20


@pytest.mark.exact('reported bytes', a='vmstat page_hinting_* counters',
                   b='tracefs page_hinting_react/pass events',
                   independent=False, why='the series increments the counters next to the trace calls, from the same variables')
def test_vmstat_counters_equal_trace_events(oneshot_patched):
    run = oneshot_patched
    run.assert_clean()
    d = vm_delta(run, "vmstat.before", "vmstat.after")
    # Reporting was idle at both snapshots: the events in between are
    # exactly those after memhog started.
    t0 = run.marker_guest_s("alloc.1")
    ev = [e for e in run.events() if e.ts >= t0]
    reacts = [e for e in ev if e.name == "react"]
    assert d["page_hinting_reported"] * PAGE == sum(e["bytes"] for e in reacts if e["err"] == 0)
    assert d["page_hinting_failed"] * PAGE == sum(e["bytes"] for e in reacts if e["err"] != 0)
    assert d["page_hinting_batches"] == len(reacts)
    assert d["page_hinting_passes"] == sum(1 for e in ev if e.name == "pass")
    assert d["page_hinting_reported"] > 0
    # memhog took memory that was reported at boot: page by page from
    # reported blocks split for it (reused); what the splits left over
    # lost its flag without being handed out (unreported).
    assert d["page_hinting_reused"] > 0
    reuse = [e for e in ev if e.name == "reuse"]
    assert d["page_hinting_reused"] == sum(e["allocated"] for e in reuse)
    assert d["page_hinting_reused"] + d["page_hinting_unreported"] == \
        sum(1 << e["order"] for e in reuse)


@pytest.fixture(scope="module")
def tunables_run(kernel, initrd):
    return run_vm("tunables", kernel, initrd, "tunables", {"MIB": 200}, timeout=400)


def test_tunable_defaults(tunables_run):
    run = tunables_run
    run.assert_clean()
    got = dict(l.split() for l in run.file("defaults").splitlines())
    # order: pageblock_order, 9 with THP on x86-64
    assert got == {"delay_ms": "2000", "capacity": "32", "order": "9"}


def test_tunables_reject_bad_values(tunables_run):
    run = tunables_run
    run.assert_clean()
    rows = [re.match(r"^(\w+) '(.*)' (\d) (-?\d+) (-?\d+)$", l).groups()
            for l in run.file("writes").splitlines()]
    good = {("capacity", "16"), ("capacity", "32"), ("capacity", "8"),
            ("order", "10"), ("delay_ms", "100")}
    nbad = 0
    for f, v, rc, before, after in rows:
        if (f, v) in good:
            assert (rc, after) == ("0", v), (f, v)
        else:
            nbad += 1
            assert rc == "1", f"{f}={v!r} accepted"
            assert after == before, f"{f}={v!r} changed the value"
    assert nbad == 14


def test_tunables_take_effect_without_reboot(tunables_run):
    run = tunables_run
    run.assert_clean()
    t_free = run.marker_guest_s("freed.1")
    bs = [b for _, bs in tracefile.passes(
        [e for e in run.events() if e.ts >= t_free]) for b in bs]
    assert bs, "no batch after the free"
    for b in bs:
        assert b.fill["entries"] <= 8                           # capacity
        assert b.fill["bytes"] == b.fill["entries"] * (4 << 20)  # order 10
    # delay_ms=100: the first batch follows the free well within the
    # mainline 2 s delay.
    assert bs[0].fill.ts - t_free < 1.5
    assert_counts_match_scan(run.file("check"))


def test_new_delay_rearms_a_queued_pass(tunables_run):
    """A pass queued with a 60 s delay runs within a second of the delay
    being set to 100 ms: the pending work is re-armed."""
    run = tunables_run
    assert int(run.file("rearm-passes")) >= 1
    took = float(run.file("rearm-end")) - float(run.file("rearm-start"))
    assert took < 2, f"the queued pass ran {took:.1f} s after the new delay"


@pytest.fixture(scope="module")
def adaptive_run(kernel, initrd):
    return run_vm("adaptive", kernel, initrd, "adaptive", {"MIB": 300}, timeout=600)


def phase_s(run, name, phase):
    """A memhog phase's time (guest CLOCK_MONOTONIC, the trace's clock)."""
    lines = [json.loads(l) for l in run.file(name).splitlines()]
    return next(x["t_ns"] for x in lines if x.get("phase") == phase) / 1e9


def test_adaptive_policy_reports_bulk_frees_soon_and_backs_off_under_reuse(adaptive_run):
    """page_reporting_adaptive=1 with a 2000 ms delay. The delay the
    kernel shows (page_reporting_adaptive_delay_ms, sampled every 0.1 s
    with MemFree) is checked against another mechanism, the pass events'
    times from tracefs:
    - during churn that allocates reported memory again the delay backs
      off to the full 2 s and no further, and no pass follows the previous one sooner than the delay shown after
      it, unless MemFree rose by half a bulk free (1/16 of MemTotal, at
      least 64 MiB) in between;
    - a bulk free is reported well before the fixed 2 s: from a quiet
      guest, and right after the churn, while the delay is still backed
      off, in under half that delay."""
    run = adaptive_run
    run.assert_clean()
    ev = run.events()
    t0 = phase_s(run, "memhog-churn.json", "churn")
    t1 = phase_s(run, "memhog-churn.json", "freed")
    d = vm_delta(run, "vmstat.churn.0", "vmstat.churn.1")
    assert d["page_hinting_reused"] >= 512, d
    # (uptime s, delay ms, MemFree KiB): /proc/uptime is CLOCK_BOOTTIME,
    # the trace's mono clock in a guest that never suspends.
    samples = [(float(t), int(v), int(f)) for t, v, f in
               (l.split() for l in run.file("delays").splitlines() if len(l.split()) == 3)]
    seq = [v for i, (_, v, _) in enumerate(samples) if i == 0 or samples[i - 1][1] != v]
    print("adaptive delays during the churn (ms):", seq)
    # backed off to the full delay under reuse, and never past it
    assert max(seq) == 2000, seq
    bulk_kib = max(int(run.file("memtotal_kib")) // 16, 64 << 10)
    passes = [e for e in ev if e.name == "pass" and t0 <= e.ts <= t1]
    checked = early = 0
    for p, q in zip(passes, passes[1:]):
        # The delay set at the end of p: the first sample after it, if
        # one came before q started.
        start_q = q.ts - q["duration_ns"] / 1e9
        after = [(v, f) for t, v, f in samples if p.ts + 0.02 <= t < start_q]
        if not after:
            continue
        checked += 1
        # 10 ms: /proc/uptime's resolution, and a tick of the timer
        if start_q - p.ts >= after[0][0] / 1000 - 0.02:
            continue
        early += 1
        rise = max(f for _, f in after) - min(f for _, f in after)
        assert rise >= bulk_kib / 2, (p.ts, start_q, after[0][0], rise, bulk_kib)
    assert checked >= 3 and early <= checked // 2, (len(passes), checked, early)
    delay_second = int(run.file("delay-second"))
    print("delay before the second bulk free (ms):", delay_second)
    assert delay_second >= 600, "the backoff did not outlast the churn"
    for name, most in (("memhog-first.json", 1.0),
                       ("memhog-second.json", delay_second / 2000)):
        t_free = phase_s(run, name, "freed")
        fills = [e.ts for e in ev if e.name == "fill" and e.ts >= t_free]
        assert fills, f"no batch after the free of {name}"
        assert fills[0] - t_free < most, (name, fills[0] - t_free, most)


def unreported_bytes(buddyinfo, zoneinfo, min_order=9):
    """Free bytes in blocks of min_order and up that are not reported:
    buddyinfo's free blocks per zone and order less the series'
    reported ones."""
    reported = zoneinfo_reported(zoneinfo)
    total = 0
    for line in buddyinfo.splitlines():
        w = line.split()
        zone, counts = w[3], [int(x) for x in w[4:]]
        for order in range(min_order, len(counts)):
            total += counts[order] * (PAGE << order) - reported.get((zone, order), 0)
    return total


@pytest.fixture(scope="module")
def reserve_run(kernel, initrd):
    return run_vm("reserve", kernel, initrd, "reserve", timeout=600)


def test_reserve_grows_under_reuse_and_goes_back_to_the_host(reserve_run):
    """page_reporting_adaptive_reserve=1 (patch 10), delay 2000 ms. Churn
    that allocates reported memory again grows the reserve the kernel
    shows; 1 s after the churn ("held"), its exit reported but for the
    reserve, passes give that back as it shrinks a quarter per 2 s, to 0.
    The readout against other mechanisms: what is held then (mainline's
    free counts in buddyinfo less the series' reported counts) is at
    most the reserve and a block of the highest order, and the passes
    after "held" (tracefs) report at least that; the host's RSS (QEMU's,
    sampled by the runner) falls after "held", by no more than that; and
    a held pass waits: passes after "held" stay a few per shrink step,
    not one per 100 ms."""
    run = reserve_run
    run.assert_clean()
    d = vm_delta(run, "vmstat.0", "vmstat.1")
    assert d["page_hinting_reused"] >= 512, d
    samples = [(float(t), int(r)) for t, r, _ in
               (l.split() for l in run.file("reserve").splitlines() if len(l.split()) == 3)]
    held_s = float(run.file("held"))
    during = [r for t, r in samples if t < held_s]
    after = [(t, r) for t, r in samples if t >= held_s]
    steps = [(t, r) for i, (t, r) in enumerate(after) if i == 0 or after[i - 1][1] != r]
    print("reserve during the churn, max:", max(during), "pages; after it:", steps)
    assert max(during) >= 512
    held = int(run.file("reserve-held")) * PAGE
    assert held >= 2 << 20, "no reserve left after the churn"
    # after the churn: only ever down, a quarter a step, 2 s apart, to 0
    assert steps[-1][1] == 0
    for i, ((t0, r0), (t1, r1)) in enumerate(zip(steps, steps[1:])):
        assert r1 < r0 and (r1 == 0 or r1 >= r0 - r0 // 4 - 1), steps
        # steps[0] is the value at "held", not a step
        assert i == 0 or t1 - t0 >= 1.8, steps
    # What was held back then, by mainline's free counts (buddyinfo)
    # less the series' reported ones (zoneinfo): at most the reserve and
    # a block of the highest order (a pass stops short of the reserve by
    # less than the block it would report); less when less was free.
    unrep = unreported_bytes(run.file("buddyinfo-held"), run.file("zoneinfo-held"))
    passes = [e for e in run.events() if e.name == "pass" and e.ts >= held_s]
    given = sum(e["bytes"] for e in passes)
    print(f"reserve {held >> 20} MiB, held {unrep >> 20} MiB; reported "
          f"after: {given >> 20} MiB in {len(passes)} passes")
    assert 0 < unrep <= held + (4 << 20), (unrep, held)
    # All of it goes back (within a block the guest may have allocated
    # meanwhile); more may: order-0 pages the churn freed into per-CPU
    # lists merge into blocks once those are drained.
    assert given >= unrep - (4 << 20), (unrep, given)
    assert len(passes) <= 3 * len(steps) + 4, [(round(e.ts, 2), e["bytes"]) for e in passes]
    # The host's RSS at its lowest before "settled" (the guest touches a
    # page here and there meanwhile: the readout loop, the shell). Not
    # all of what the passes give back is still resident: a block the
    # churn freed next to a reported buddy merges with it and is
    # reported again whole, half of it discarded already. So the host
    # must see memory come back after "held", which with the reserve
    # off it would not, and no more than the guest gave.
    h, s = run.marker_host("held"), run.marker_host("settled")
    low = min(k for t, k in run.r["rss"] if h <= t <= s)
    rss_drop = (run.rss_at(h) - low) * 1024
    print(f"host RSS fell {rss_drop >> 20} MiB from held to settled")
    assert 4 << 20 <= rss_drop <= given + (4 << 20), (rss_drop, given)


@pytest.mark.exact('per-zone per-order counts', a="zoneinfo 'reported' counters",
                   b='debugfs check: free-list scan',
                   independent=True, why='counters vs a scan, after a minute of churn on the debug kernel')
def test_stress_on_debug_kernel_keeps_counts_exact(initrd):
    kernel = need(DEBUG_KERNEL, "make kernel KFLAVOUR=debug")
    run = run_vm("stress-debug", kernel, initrd, "stress",
                 {"STRESS_S": 60, "MIB": 512}, timeout=900)
    run.assert_clean()
    run.assert_kasan()
    assert_counts_match_scan(run.file("check"))
    assert int(run.file("policy_changes")) >= 20
    d = vm_delta(run, "vmstat.before", "vmstat.after")
    assert d["page_hinting_passes"] >= 5
    assert d["page_hinting_reported"] > 0 and d["page_hinting_reused"] > 0
    zi = run.file("zoneinfo")
    for line in re.findall(r"^\s+reported ([\d ]+)$", zi, re.M):
        assert all(int(x) < 1 << 40 for x in line.split())
    # A different mechanism: reported blocks read from /proc/kpageflags
    # (free buddy heads with PG_reported) equal the counts per zone and
    # order.
    scan, want = kpageflags_vs_zoneinfo(run)
    assert sum(want.values()) > 0
    assert scan == want or pairs_read_one_order_up(scan, want), (scan, want)


def pairs_read_one_order_up(scan, want):
    """After churn the allocator may keep two free pageblock-order buddies
    apart (a highatomic or isolated pageblock next to a normal one); in
    /proc/kpageflags such a pair, one of them reported, reads as one
    reported block of the next order (hintstat.8, MODES). True when that
    explains the whole difference: k blocks of order o fewer, k of o + 1
    more, nothing else."""
    diff = {k: scan.get(k, 0) - want.get(k, 0) for k in set(scan) | set(want)}
    diff = {k: v for k, v in diff.items() if v}
    if len(diff) != 2:
        return False
    (zl, lo), (zh, hi) = sorted(diff)
    k = -diff[zl, lo] // (4096 << lo)
    print(f"{k} pair(s) of order {lo} read as order {hi}")
    return (zl == zh and hi == lo + 1 and k > 0 and
            diff[zl, lo] == -k * (4096 << lo) and
            diff[zh, hi] == k * (4096 << hi))
