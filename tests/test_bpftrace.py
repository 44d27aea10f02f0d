"""The bpftrace scripts (tools/bpftrace/*.bt): headers, a compile of every
script without attaching (bpftrace --dry-run; bpftrace 0.17 has no such
flag, --emit-elf is its compile-only mode), the guest scripts against
the patched guest kernel's own page_hinting event formats and BTF, and
host_discards.bt run for real on QEMU while a guest frees memory: its
bytes inside guest RAM must equal the guest kernel's count of reported
pages (/proc/vmstat page_hinting_reported), exactly.
"""
import glob
import os
import re
import signal
import subprocess
import time

import pytest

from conftest import BUILD, RUNS, TOP, host_tracefs, need, run_vm

BT_DIR = os.path.join(TOP, "tools", "bpftrace")
SCRIPTS = sorted(glob.glob(os.path.join(BT_DIR, "*.bt")))
GUEST = [s for s in SCRIPTS if os.path.basename(s).startswith("hint_")]
HOST = [s for s in SCRIPTS if os.path.basename(s).startswith("host_")]
VMLINUX = os.path.join(BUILD, "kernel-default", "vmlinux")
BPFTRACE = "/usr/bin/bpftrace"
GUEST_MIB = 1024
FREE_MIB = 131


def compile_args(out):
    """bpftrace's compile-only mode: --dry-run where it exists."""
    h = subprocess.run([BPFTRACE, "--help"], capture_output=True, text=True)
    if "--dry-run" in h.stdout + h.stderr:
        return ["--dry-run"]
    return ["--emit-elf", out]


def quiet(stderr):
    # Sandboxes refuse RLIMIT_MEMLOCK; harmless when nothing is loaded.
    return "\n".join(l for l in stderr.splitlines() if "RLIMIT_MEMLOCK" not in l)


def test_there_are_scripts_for_both_sides():
    names = [os.path.basename(s) for s in SCRIPTS]
    assert {"hint_latency.bt", "hint_lockhold.bt", "hint_orders.bt",
            "host_discards.bt"} <= set(names)
    assert len(GUEST) + len(HOST) == len(SCRIPTS)


@pytest.mark.parametrize("path", SCRIPTS, ids=os.path.basename)
def test_header_has_usage_and_an_annotated_example(path):
    with open(path) as f:
        text = f.read()
    head = text.split("*/", 1)[0]
    name = os.path.basename(path)
    assert text.startswith("#!/usr/bin/env bpftrace\n")
    assert f" * {name} - " in head
    assert "USAGE: bpftrace " + name in head
    assert "Example" in head and "<- " in head, "example lines are annotated"
    assert re.search(r"BEGIN\s*{\s*printf\(\"[^\"]*Hit Ctrl-C to end", text)
    assert re.search(r"\nEND\s*{", text)
    assert all(len(l) <= 80 for l in head.splitlines()), "80 columns"


@pytest.mark.parametrize("path", HOST, ids=os.path.basename)
def test_host_scripts_compile_on_this_host(path, tmp_path):
    need(BPFTRACE, "apt-get install bpftrace")
    host_tracefs()
    p = subprocess.run([BPFTRACE] + compile_args(str(tmp_path / "x.o")) +
                       [path, "1", "4096", "8192"],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and not quiet(p.stderr), p.stderr


class DiscardTracer:
    """on_start: find QEMU's guest RAM, run host_discards.bt on it."""

    def __init__(self, out):
        self.out, self.proc, self.pid, self.ram = out, None, None, None

    def find_ram(self, pid):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with open(f"/proc/{pid}/maps") as f:
                    for line in f:
                        lo, hi = (int(x, 16) for x in line.split()[0].split("-"))
                        if hi - lo == GUEST_MIB << 20:
                            return lo, hi
            except OSError:
                return None
            time.sleep(0.05)
        return None

    def __call__(self, pid):
        self.ram = self.find_ram(pid)
        if self.ram is None:
            return      # the runner's KVM probe died; retried under TCG
        self.pid = pid
        self.path = os.path.join(self.out, "host_discards.txt")
        self.stdout = open(self.path, "w")
        self.proc = subprocess.Popen(
            [BPFTRACE, "-B", "none", os.path.join(BT_DIR, "host_discards.bt"),
             str(pid), str(self.ram[0]), str(self.ram[1])],
            stdout=self.stdout, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and "Tracing" not in self.text():
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        if "Tracing" not in self.text():
            raise RuntimeError(f"host_discards.bt did not start: {self.text()}")

    def text(self):
        with open(self.path) as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGINT)
            self.proc.wait(60)
        self.stdout.close()


@pytest.fixture(scope="module")
def bt_run(kernel, initrd):
    need(BPFTRACE, "apt-get install bpftrace")
    host_tracefs()
    out = os.path.join(RUNS, "host-bpftrace")
    os.makedirs(out, exist_ok=True)
    tracer = DiscardTracer(out)
    try:
        run = run_vm("host-bpftrace", kernel, initrd, "host-bpftrace",
                     {"MIB": FREE_MIB}, timeout=300, mem=GUEST_MIB,
                     on_start=tracer)
    finally:
        if tracer.proc:
            tracer.stop()
    run.assert_clean()
    return run, tracer


@pytest.fixture(scope="module")
def guest_btf(tmp_path_factory):
    """The guest kernel's raw BTF (BPFTRACE_BTF wants the section alone)."""
    path = str(tmp_path_factory.mktemp("btf") / "vmlinux.btf")
    subprocess.run(["objcopy", "--dump-section", f".BTF={path}",
                    need(VMLINUX, "make kernel"), path + ".o"], check=True)
    return path


def guest_tracefs_cmd(run, script, out, btf):
    """bpftrace in a private mount namespace whose tracefs holds the
    guest kernel's page_hinting formats, its types from the guest BTF."""
    src = os.path.join(run.out, "tracefs")
    sh = ("set -e; T=/sys/kernel/tracing; mount -t tmpfs pagehint $T; "
          "mkdir -p $T/events; cp -r \"$1\"/page_hinting $T/events/; "
          "cp \"$1\"/available_events $T/; "
          "[ -d /sys/kernel/debug/tracing ] && mount --bind $T /sys/kernel/debug/tracing || true; "
          "shift; exec \"$@\"")
    return (["unshare", "-m", "--propagation", "private", "sh", "-c", sh, "sh", src,
             "env", f"BPFTRACE_BTF={btf}", BPFTRACE] +
            compile_args(out) + [script])


@pytest.mark.vm
def test_guest_formats_are_the_series_events(bt_run):
    run, _ = bt_run
    events = run.file("tracefs/available_events").split()
    assert {f"page_hinting:page_hinting_{e}" for e in
            ("request", "fill", "react", "drain", "cycle", "pass")} <= set(events)


@pytest.mark.vm
@pytest.mark.parametrize("path", GUEST, ids=os.path.basename)
def test_guest_scripts_compile_against_the_patched_kernel(bt_run, guest_btf, path,
                                                          tmp_path):
    run, _ = bt_run
    p = subprocess.run(guest_tracefs_cmd(run, path, str(tmp_path / "x.o"), guest_btf),
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0 and not quiet(p.stderr), p.stderr


@pytest.mark.vm
def test_the_guest_compile_check_is_real(bt_run, guest_btf, tmp_path):
    # The same check refuses a field the events do not have, and an event
    # the kernel does not have: it reads the guest's formats, not a stub.
    run, _ = bt_run
    bad = tmp_path / "bad.bt"
    for body in ("tracepoint:page_hinting:page_hinting_fill { @ = sum(args->no_such); }",
                 "tracepoint:page_hinting:page_hinting_nope { @ = count(); }"):
        bad.write_text(body + "\n")
        p = subprocess.run(guest_tracefs_cmd(run, str(bad), str(tmp_path / "x.o"),
                                             guest_btf),
                           capture_output=True, text=True, timeout=120)
        assert p.returncode != 0 and "ERROR" in p.stderr, body


def bt_value(text, name):
    m = re.search(rf"^@{name}: (\d+)$", text, re.M)
    assert m, f"@{name} missing in:\n{text}"
    return int(m.group(1))


@pytest.mark.vm
@pytest.mark.exact('reported bytes', a='host_discards.bt on QEMU',
                   b='guest vmstat page_hinting_reported',
                   independent=True, why="host syscalls vs the guest kernel's counter")
def test_host_discards_script_runs_for_real(bt_run):
    run, tracer = bt_run
    text = tracer.text()
    reported = None
    for line in run.file("vmstat.end").splitlines():
        k, v = line.split()
        if k == "page_hinting_reported":
            reported = int(v) * 4096
    assert tracer.pid == run.r["qemu_pid"]
    inside = bt_value(text, "inside_bytes")
    print(f"host_discards.bt: {inside} bytes in {bt_value(text, 'inside_calls')} "
          f"calls inside guest RAM, {bt_value(text, 'outside_bytes')} outside; "
          f"guest vmstat: {reported} bytes reported")
    assert reported >= FREE_MIB << 19
    assert inside == reported
    assert bt_value(text, "errors") == 0
    assert "@discard_ns:" in text
