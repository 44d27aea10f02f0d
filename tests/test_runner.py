"""The VM runner: bad input, timeouts, teardown, KVM proven before use,
the TCG guest's clock, and its maths."""
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
import types

import pytest

import pagehint_vm
from conftest import TOP, RUNS

RUNNER = [sys.executable, os.path.join(TOP, "vm", "pagehint_vm.py")]
# The budget for a KVM verdict, probe and teardown included.
VERDICT_S = 10


def runner(*args, env=None, **kw):
    return subprocess.run(RUNNER + list(args), capture_output=True, text=True,
                          env=env, timeout=120, **kw)


def one_error_line(p):
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1, p.stderr
    assert lines[0].startswith("pagehint-vm: ")
    return lines[0]


def test_missing_kernel_image(initrd):
    p = runner("--kernel", "/nonexistent/bzImage", "--initrd", initrd,
               "--scenario", "boot")
    assert p.returncode == 2
    line = one_error_line(p)
    assert "kernel image /nonexistent/bzImage not found" in line and "hint" in line


def test_unknown_scenario(kernel, initrd):
    p = runner("--kernel", kernel, "--initrd", initrd, "--scenario", "nosuch")
    assert p.returncode == 2
    line = one_error_line(p)
    assert "unknown scenario 'nosuch'" in line and "oneshot" in line
    assert "lib" not in line.split("known:")[1]


def test_qemu_absent(kernel, initrd):
    env = dict(os.environ, PATH="/nonexistent")
    p = runner("--kernel", kernel, "--initrd", initrd, "--scenario", "boot",
               env=env)
    assert p.returncode == 2
    assert "qemu-system-x86_64 not found" in one_error_line(p)


def test_bad_env_argument(kernel, initrd):
    p = runner("--kernel", kernel, "--initrd", initrd, "--scenario", "boot",
               "--env", "no-equals-sign")
    assert p.returncode == 2
    assert "bad --env" in one_error_line(p)


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def qemu_children(pid):
    kids = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    st = f.read().rsplit(")", 1)[1].split()
                with open(f"/proc/{d}/comm") as f:
                    comm = f.read().strip()
            except OSError:
                continue
            if int(st[1]) == pid and comm.startswith("qemu"):
                kids.append(int(d))
    return kids


@pytest.mark.vm
def test_timeout_tears_the_vm_down(kernel, initrd):
    out = os.path.join(RUNS, "runner-timeout")
    r = pagehint_vm.run(kernel, initrd, "hang", out, timeout=20)
    assert r["timed_out"] and not r["ok"]
    assert "timed out" in r["error"]
    assert "hanging" in r["markers"], "the guest never reached the scenario"
    assert not alive(r["qemu_pid"])


def default_sigint():
    # A shell without job control starts a background command with SIGINT
    # ignored (`setsid nohup make test &`), pytest and its children inherit
    # that, and a Python program rightly keeps an inherited SIG_IGN: the
    # runner then sat through its 300 s timeout. The test is of the
    # runner's handler, so give it the disposition a terminal would.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.vm
@pytest.mark.parametrize("sig,rc", [(signal.SIGINT, 130), (signal.SIGKILL, -9)])
def test_interrupted_runner_leaves_no_qemu(kernel, initrd, sig, rc):
    out = os.path.join(RUNS, f"runner-{sig.name}")
    p = subprocess.Popen(RUNNER + ["--kernel", kernel, "--initrd", initrd,
                                   "--scenario", "hang", "--out", out,
                                   "--accel", "tcg"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         preexec_fn=default_sigint)
    try:
        deadline = time.time() + 60
        kids = []
        while not kids and time.time() < deadline:
            time.sleep(0.2)
            kids = qemu_children(p.pid)
        assert kids, "QEMU never started"
        p.send_signal(sig)
        p.wait(30)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == rc
    if sig == signal.SIGINT:
        assert "interrupted, VM torn down" in p.stderr.read()
    deadline = time.time() + 10
    while alive(kids[0]) and time.time() < deadline:
        time.sleep(0.1)
    assert not alive(kids[0]), f"QEMU {kids[0]} survived {sig.name} of the runner"


@pytest.mark.vm
def test_a_boot_that_lost_its_clock_is_started_again(kernel, initrd,
                                                     monkeypatch):
    """A real boot whose console "says" the TSC broke (a line every boot
    prints stands in for "Marking TSC unstable"): the runner kills it
    and boots again, CLOCK_TRIES times in all, then runs it to the end
    and flags it; with a tracer on the QEMU (on_start) it does not
    restart. TCG only: under KVM the guest has kvm-clock."""
    monkeypatch.setattr(pagehint_vm, "CLOCK_BROKEN_RE",
                        pagehint_vm.re.compile(r"Linux version"))
    t = []
    r = pagehint_vm.run(kernel, initrd, "boot",
                        os.path.join(RUNS, "runner-clock"), accel="tcg",
                        on_sample=lambda now, k, m: t.append(now))
    boots = 1 + sum(b < a for a, b in zip(t, t[1:]))     # the clock restarts
    assert boots == pagehint_vm.CLOCK_TRIES
    assert r["clock_restarts"] == pagehint_vm.CLOCK_TRIES - 1
    assert r["clock_broken"] and r["guest_rc"] == 0
    pids, console = [], []
    out = os.path.join(RUNS, "runner-clock")

    def attach(pid):
        # QEMU waits paused (-S) until this returns: nothing ran yet.
        pids.append(pid)
        path = os.path.join(out, "console.log")
        console.append(os.path.getsize(path) if os.path.exists(path) else 0)
    r = pagehint_vm.run(kernel, initrd, "boot", out, accel="tcg",
                        on_start=attach)
    assert len(pids) == 1 and r["clock_restarts"] == 0 and r["clock_broken"]
    assert r["qmp_status_at_start"] == "prelaunch" and console == [0]
    assert r["guest_rc"] == 0       # and it ran once continued
    monkeypatch.undo()
    r = pagehint_vm.run(kernel, initrd, "boot",
                        os.path.join(RUNS, "runner-clock"), accel="tcg")
    assert r["clock_restarts"] == 0 and not r["clock_broken"]


def fake_qmp(tmp_path, answers):
    """A QMP server on a unix socket: the greeting, then one answer per
    command read; returns its path."""
    import socket
    import threading
    path = str(tmp_path / "qmp.sock")
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(path)
    srv.listen(1)

    def serve():
        conn, _ = srv.accept()
        f = conn.makefile("rw")
        f.write('{"QMP": {"version": {}}}\n')
        f.flush()
        for a in answers:
            if not f.readline():
                break
            f.write('{"event": "X"}\n' + a + "\n")
            f.flush()
        conn.close()
        srv.close()
    threading.Thread(target=serve, daemon=True).start()
    return path


def test_qmp_client_answers_skips_events_and_fails_fast(tmp_path):
    alive_proc = subprocess.Popen(["sleep", "60"])
    try:
        q = pagehint_vm.Qmp(fake_qmp(tmp_path, [
            '{"return": {}}', '{"return": {"status": "prelaunch"}}',
            '{"error": {"desc": "no"}}']), alive_proc)
        assert q.cmd("query-status") == {"status": "prelaunch"}
        with pytest.raises(pagehint_vm.QmpError, match="cont: no"):
            q.cmd("cont")
        with pytest.raises(pagehint_vm.QmpError, match="closed"):
            q.cmd("cont")
        q.close()
        # No socket ever: an error after the deadline, not a hang.
        t0 = time.monotonic()
        with pytest.raises(pagehint_vm.QmpError, match="no QMP socket"):
            pagehint_vm.Qmp(str(tmp_path / "none"), alive_proc, 0.3)
        assert time.monotonic() - t0 < 5
    finally:
        alive_proc.kill()
        alive_proc.wait()
    dead = subprocess.Popen(["true"])
    dead.wait()
    with pytest.raises(pagehint_vm.QmpError, match="exited"):
        pagehint_vm.Qmp(str(tmp_path / "none"), dead)


def test_reclaim_times():
    rss = [(0.0, 1000), (1.0, 1000), (2.0, 900), (3.0, 450), (4.0, 100)]
    t = pagehint_vm.reclaim_times(rss, 1.0, 1000)
    assert t == {0.5: 2.0, 0.9: 3.0}
    assert pagehint_vm.reclaim_times(rss, 1.0, 5000)[0.9] is None
    assert pagehint_vm.reclaim_times(rss, -1.0, 10)[0.5] is None


def test_find_splats():
    log = ("[ 1.0] ok\n[ 2.0] WARNING: CPU: 0 PID: 1 at mm/page_alloc.c:1\n"
           "[ 3.0] BUG: unable to handle page fault\n"
           "[ 4.0] rcu: INFO: rcu_sched self-detected stall on CPU\n"
           "[ 5.0] debug: DEBUG_VM is on\n")
    s = pagehint_vm.find_splats(log)
    assert len(s) == 3 and "DEBUG_VM" not in " ".join(s)


# ---- KVM proven, not assumed ----------------------------------------------

@pytest.fixture
def kvm_env(tmp_path, monkeypatch):
    """A private verdict cache, a /dev/kvm stand-in that opens anywhere,
    and the process's one-line notice not said yet."""
    monkeypatch.setenv("PAGEHINT_KVM_CACHE", str(tmp_path / "kvm.json"))
    monkeypatch.setattr(pagehint_vm, "KVM_DEV", "/dev/null")
    monkeypatch.setattr(pagehint_vm, "_kvm_failed", None)
    monkeypatch.setattr(pagehint_vm, "_kvm_fallback_said", False)
    return tmp_path


def stand_in(tmp_path, body, monkeypatch):
    """A QEMU stand-in (PAGEHINT_QEMU) that logs each start, then runs
    body; returns a function counting its starts."""
    log = tmp_path / "starts"
    path = tmp_path / "qemu-stand-in"
    path.write_text(f"#!/bin/sh\necho start >> {log}\n{body}\n")
    path.chmod(0o755)
    monkeypatch.setenv("PAGEHINT_QEMU", str(path))
    return lambda: len(log.read_text().splitlines()) if log.exists() else 0


def timed_verdict(kernel=None, limit=VERDICT_S):
    t0 = time.monotonic()
    v = pagehint_vm.kvm_verdict(pagehint_vm.qemu_binary(), kernel)
    took = time.monotonic() - t0
    assert took < limit, f"KVM verdict took {took:.1f} s"
    return v


# A stand-in's kernel stage: the sector "runs" (exit 85); a -kernel boot
# goes on to the body, with $con the -serial file.
SECTOR_OK = """case "$*" in *-kernel*) ;; *) exit 85;; esac
for a; do case "$a" in file:*) con=${a#file:};; esac; done
"""


def test_kvm_that_runs_the_sector_but_not_a_kernel_is_not_usable(kvm_env, monkeypatch):
    """The sector exits, the kernel prints nothing (seen on a machine of
    the development kind): not usable, at the kernel stage's deadline."""
    monkeypatch.setattr(pagehint_vm, "PROBE_KERNEL_S", 1.0)
    starts = stand_in(kvm_env, SECTOR_OK + "exec sleep 600", monkeypatch)
    v = timed_verdict(str(kvm_env / "bzImage"), 1.0 + VERDICT_S)
    assert not v["usable"] and "printed nothing in 1 s" in v["reason"], v
    assert starts() == 2
    # A sector-only verdict is not taken for one that probed a kernel.
    assert not timed_verdict()["cached"] and starts() == 3


def test_kvm_kernel_probe_ends_at_the_first_console_byte(kvm_env, monkeypatch):
    starts = stand_in(kvm_env, SECTOR_OK + 'echo "Linux version" > "$con"; exec sleep 600',
                      monkeypatch)
    v = timed_verdict(str(kvm_env / "bzImage"))
    assert v["usable"] and v["reason"] is None and starts() == 2, v
    assert timed_verdict(str(kvm_env / "bzImage"))["cached"] and starts() == 2


def test_kvm_kernel_probe_that_exits_says_why(kvm_env, monkeypatch):
    stand_in(kvm_env, SECTOR_OK + "echo 'qemu: no kernel here' >&2; exit 1", monkeypatch)
    v = timed_verdict(str(kvm_env / "bzImage"))
    assert not v["usable"]
    assert v["reason"] == "QEMU exited 1: qemu: no kernel here", v


def test_silent_kvm_is_given_up_in_time(kvm_env, monkeypatch):
    """A QEMU that hangs and prints nothing (a /dev/kvm whose vCPU never
    runs): killed at the probe's deadline, not usable, reason said."""
    starts = stand_in(kvm_env, "exec sleep 600", monkeypatch)
    v = timed_verdict()
    assert not v["usable"] and "silent" in v["reason"], v
    assert starts() == 1 and not v["cached"]


def test_kvm_error_exit_is_not_usable(kvm_env, monkeypatch):
    stand_in(kvm_env, "echo 'qemu: failed to initialize kvm: Bad thing' >&2; exit 1",
             monkeypatch)
    v = timed_verdict()
    assert not v["usable"]
    assert v["reason"] == "QEMU exited 1: qemu: failed to initialize kvm: Bad thing"


def test_missing_kvm_device_needs_no_probe(kvm_env, monkeypatch):
    starts = stand_in(kvm_env, "exit 1", monkeypatch)
    monkeypatch.setattr(pagehint_vm, "KVM_DEV", str(kvm_env / "no-kvm"))
    v = timed_verdict()
    assert not v["usable"] and "No such file" in v["reason"]
    assert starts() == 0


def test_kvm_verdict_is_cached_per_boot_and_binary(kvm_env, monkeypatch):
    starts = stand_in(kvm_env, "exit 1", monkeypatch)
    first = timed_verdict()
    again = timed_verdict()
    assert starts() == 1 and again["cached"]
    assert {**again, "cached": False} == first
    boot_id = kvm_env / "boot_id"
    boot_id.write_text("another-boot\n")
    monkeypatch.setattr(pagehint_vm, "BOOT_ID", str(boot_id))
    assert not timed_verdict()["cached"] and starts() == 2
    qemu = pagehint_vm.qemu_binary()
    os.utime(qemu, (time.time(), os.stat(qemu).st_mtime + 10))  # "upgraded"
    assert not timed_verdict()["cached"] and starts() == 3
    assert timed_verdict()["cached"] and starts() == 3


@pytest.mark.vm
def test_probe_guest_runs_under_tcg():
    """The probe guest itself is right: under TCG it reaches its exit."""
    t0 = time.monotonic()
    assert pagehint_vm.probe_boot(pagehint_vm.qemu_binary(), "tcg") == (True, None)
    assert time.monotonic() - t0 < pagehint_vm.PROBE_S


@pytest.mark.vm
def test_guest_kernel_prints_in_time_under_tcg(kernel):
    """The kernel stage is right: under TCG the guest kernel's banner
    reaches the console well within the deadline."""
    t0 = time.monotonic()
    assert pagehint_vm.probe_kernel(pagehint_vm.qemu_binary(), "tcg", kernel) == (True, None)
    print(f"first console byte under TCG after {time.monotonic() - t0:.2f} s")


@pytest.mark.vm
def test_this_machines_kvm_gets_a_verdict_in_time(kernel, tmp_path, monkeypatch):
    """The real /dev/kvm (whatever it is here), probed afresh with the
    guest kernel."""
    monkeypatch.setenv("PAGEHINT_KVM_CACHE", str(tmp_path / "kvm.json"))
    v = timed_verdict(kernel, pagehint_vm.PROBE_S + pagehint_vm.PROBE_KERNEL_S + 3)
    print(f"KVM verdict here: {v}")
    assert v["usable"] or v["reason"]


@pytest.mark.vm
def test_runs_fall_back_to_tcg_once_per_process(kernel, initrd, kvm_env,
                                                monkeypatch, capsys):
    """KVM silent, TCG fine: every run goes to TCG with the reason in
    result.json; the probe runs once; stderr says it once."""
    real = pagehint_vm.qemu_binary()
    starts = stand_in(kvm_env, f'case "$*" in *accel=kvm*) exec sleep 600;; esac\n'
                               f'exec {real} "$@"', monkeypatch)
    out = os.path.join(RUNS, "runner-kvm-fallback")
    for n in (1, 2):
        t0 = time.monotonic()
        r = pagehint_vm.run(kernel, initrd, "boot", out, timeout=120)
        assert r["ok"] and r["accel"] == "tcg"
        assert time.monotonic() - t0 < VERDICT_S + r["wall_s"]
        with open(os.path.join(out, "result.json")) as f:
            saved = json.load(f)
        assert "silent" in saved["kvm_fallback"] and saved["accel"] == "tcg"
        assert saved["kvm_probe"]["cached"] == (n == 2)
    assert starts() == 3            # one probe, two TCG boots
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and "KVM not usable" in err[0] and "silent" in err[0], err


# ---- the TCG guest's clock ------------------------------------------------

def test_host_tsc_rate_is_measured_steadily():
    a, b = pagehint_vm._measure_tsc_khz(), pagehint_vm._measure_tsc_khz()
    assert a > 100_000 and abs(a - b) / a < 1e-4, (a, b)


@pytest.mark.vm
def test_tcg_guest_runs_on_the_hosts_tsc_rate(kernel, initrd):
    """Under TCG the guest is told the host's TSC rate: it keeps its TSC
    clock, and a 1 s sleep timed by it takes 1 s of the host's clock
    (the markers' guest CLOCK_MONOTONIC against their host mtimes)."""
    r = pagehint_vm.run(kernel, initrd, "clock",
                        os.path.join(RUNS, "runner-tsc"), accel="tcg",
                        timeout=120)
    assert r["ok"], r.get("error")
    khz = pagehint_vm.host_tsc_khz()
    assert r["tsc_early_khz"] == khz
    with open(os.path.join(r["out"], "console.log"), errors="replace") as f:
        assert f"Detected {khz // 1000}.{khz % 1000:03d} MHz" in f.read()
    with open(os.path.join(r["outdir"], "clocksource")) as f:
        assert f.read().strip() in ("tsc", "tsc-early")
    assert not r["clock_broken"] and r["clock_restarts"] == 0
    marks = [os.path.join(r["outdir"], n) for n in ("touched.1", "freed.1")]
    guest = [int(open(m).read()) for m in marks]
    host = [os.stat(m).st_mtime_ns for m in marks]
    ratio = (guest[1] - guest[0]) / (host[1] - host[0])
    assert abs(ratio - 1) < 0.02, f"guest clock / host clock = {ratio:.4f}"


def load_demo():
    spec = importlib.util.spec_from_file_location(
        "demo", os.path.join(TOP, "scripts", "demo.py"))
    demo = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(demo)
    return demo


FILL = ("kworker/0:1-20 [000] ..... 10.000001: page_hinting_fill: nid=0 "
        "zone=Normal order=9 mt=1 entries=32 bytes=67108864 lock_ns={}\n")
REACT = ("kworker/0:1-20 [000] ..... 10.000002: page_hinting_react: "
         "entries=32 bytes=67108864 duration_ns={} err=0\n")


@pytest.mark.parametrize("clock,figures", [
    ({"clock_broken": True, "clocksource": "refined-jiffies"}, False),
    ({"clock_broken": True, "clocksource": "tsc-early"}, False),
    ({"clock_broken": False, "clocksource": "tsc"}, True)])
def test_demo_prints_no_figure_a_broken_clock_did_not_measure(tmp_path, capsys,
                                                             clock, figures):
    ns = 0 if not figures else 5000
    (tmp_path / "vmstat.end").write_text("page_hinting_reported 16384\n")
    (tmp_path / "trace.txt").write_text(FILL.format(ns) + REACT.format(ns))
    total = {"discarded_bytes": 16384 * 4096, "discard_calls": 1,
             "outside_bytes": 0, "outside_calls": 0, "refaults": 0,
             "refault_bytes": 0}
    line = {"total": total, "guest": {"stream": "gone"},
            "hist": {"discard_ns": []}, "rss_bytes": 1 << 30}
    load_demo().summary({"outdir": str(tmp_path), **clock},
                        types.SimpleNamespace(lines=[line]))
    out = capsys.readouterr().out
    guest = [l for l in out.splitlines() if "zone lock hold" in l]
    assert len(guest) == 1
    if figures:
        assert "p50 5.0 us" in guest[0]
    else:
        assert "zone lock hold -, device call - (not measured: " in guest[0]
        assert " us" not in guest[0]


def test_demo_splits_qemu_rss_into_guest_ram_and_its_own():
    """The summary's split comes from one moment: the last sample of the
    guest RAM mapping and the VmRSS sample at or before it; a run without
    RAM samples says so instead of printing 0."""
    demo = load_demo()
    r = {"rss": [(0.0, 400 * 1024), (1.0, 300 * 1024), (1.05, 999 * 1024)],
         "ram_rss": [(0.0, 350 * 1024), (1.0, 200 * 1024)]}
    assert demo.ram_split(r) == ("of 300 MiB at 1.0 s, guest RAM 200, "
                                 "QEMU's own 100 (/proc/PID/smaps)")
    r["ram_rss"] = []
    assert demo.ram_split(r).endswith(": - (no smaps sample of the RAM mapping)")
