"""Fault injection in the guest and around it.

- The virtio-balloon driver unbound and bound again in the middle of
  reporting (between the passes of one job: these guests' passes never
  yield the CPU, see balloon-rebind.sh), 50 times, on the debug kernel (DEBUG_VM,
  PROVE_LOCKING, DEBUG_LIST): no splat; the series' counts still exact,
  checked two independent ways (its debugfs check scans the free lists
  under the zone lock; hintstat's kpageflags scan reads PG_reported
  from /proc/kpageflags, another mechanism); reporting resumes on the
  rebound device.
- A guest that panics while it reports and streams to the host: the
  runner says it panicked, and hintstat host, tracing its QEMU, prints
  its last interval and summary and exits 0.

(The KUnit fake device failing batch N of M lives with the kernel
series, kernel/.)
"""
import json
import os
import re

import pytest

from conftest import RUNS, kpageflags_vs_zoneinfo, need, run_vm
from test_kernel_features import DEBUG_KERNEL, assert_counts_match_scan

ROUNDS = 50


def vmstat(text):
    return {k: int(v) for k, v in (l.split() for l in text.splitlines())}


@pytest.fixture(scope="module")
def rebind_run(initrd):
    kernel = need(DEBUG_KERNEL, "make kernel-debug")
    run = run_vm("balloon-rebind-debug", kernel, initrd, "balloon-rebind",
                 {"ROUNDS": ROUNDS}, timeout=1500)
    run.assert_clean()
    run.assert_kasan()
    return run


@pytest.mark.vm
def test_rebind_in_mid_pass_50_times_without_a_splat(rebind_run):
    run = rebind_run
    assert int(run.file("rounds")) == ROUNDS
    # Where each unbind (after a bind) came, by the last reporting event
    # before its "unbind N" marker: inside a pass (not on this guest: one
    # CPU, no preemption, a synchronous device), or between the passes
    # of one reporting job (the last pass requeued the rest), or idle.
    inside = mid = 0
    last = None
    for line in run.file("trace.txt").splitlines():
        m = re.search(r" page_hinting_(fill|react|drain|cycle|pass):", line)
        if m:
            last = m.group(1)
            if last == "pass" and " requeued=1 " in line:
                last = "requeued=1"
        elif re.search(r"tracing_mark_write: unbind [1-9]\d*$", line):
            inside += last in ("fill", "react", "drain", "cycle")
            mid += last == "requeued=1"
    print(f"of {ROUNDS - 1} unbinds after a bind: {mid} between the passes "
          f"of one reporting job, {inside} inside a pass")
    assert int(run.file("no_fill_in_10s")) == 0
    mid += inside
    assert mid >= ROUNDS // 2, mid


@pytest.mark.vm
@pytest.mark.exact('per-zone per-order counts', a="zoneinfo 'reported' counters",
                   b='debugfs free-list scan and the /proc/kpageflags scan',
                   independent=True, why='counters vs two scans, after 50 unbinds')
def test_counts_exact_after_the_rebinds(rebind_run):
    """The debugfs check (a free-list scan under the zone lock) and the
    kpageflags scan (PG_reported read by hintstat) each equal the
    series' per-zone per-order counts."""
    run = rebind_run
    reported = assert_counts_match_scan(run.file("check"))
    assert reported > 0
    scan, want = kpageflags_vs_zoneinfo(run)
    assert scan == want


@pytest.mark.vm
def test_reporting_resumes_on_the_rebound_device(rebind_run):
    run = rebind_run
    a, b = vmstat(run.file("vmstat.rebound")), vmstat(run.file("vmstat.end"))
    assert b["page_hinting_passes"] > a["page_hinting_passes"]
    # Most of the 128 MiB freed after the last rebind is reported again.
    assert b["page_hinting_reported"] - a["page_hinting_reported"] >= 64 << 8


@pytest.fixture(scope="module")
def panic_run(kernel, initrd):
    from test_host_e2e import HostTracer
    out = os.path.join(RUNS, "panic")
    os.makedirs(out, exist_ok=True)
    sock = os.path.join(out, "hintstat.sock")
    if os.path.exists(sock):
        os.unlink(sock)
    tracer = HostTracer(out, sock)
    try:
        run = run_vm("panic", kernel, initrd, "panic", timeout=600,
                     serial_socket=sock, on_start=tracer)
    finally:
        rc = tracer.wait() if tracer.proc else None
    with open(os.path.join(out, "host.json")) as f:
        lines = [json.loads(l) for l in f]
    return run, tracer, rc, lines


@pytest.mark.vm
def test_the_runner_reports_a_guest_panic(panic_run):
    run, _, _, _ = panic_run
    r = run.r
    assert not r["ok"] and r["guest_rc"] is None and not r["timed_out"]
    assert "Attempted to kill init" in r["panic"], r["panic"]
    assert r["error"].startswith("guest kernel panic: Kernel panic - not "
                                 "syncing: Attempted to kill init"), r["error"]
    # It panicked mid-run: after the stream began and a pass started.
    assert run.has("stream-start") and run.has("panicking")


@pytest.mark.vm
def test_hintstat_host_exits_cleanly_with_its_summary(panic_run):
    run, tracer, rc, lines = panic_run
    err = tracer.err()
    assert rc == 0, err
    assert f"qemu-system-x86 (pid {tracer.pid}) exited while tracing" in err
    assert "hintstat: summary over" in err
    assert "hintstat: while the guest streamed: guest hinted" in err
    assert "AddressSanitizer" not in err and "runtime error:" not in err
    # The guest's lines were joined before the panic, then the stream
    # ended with QEMU.
    assert any(o["guest"].get("lines", 0) >= 1 for o in lines), lines[-1]
    assert "hintstat: guest stream gone" in err
    assert lines[-1]["guest"]["stream"] == "gone"
