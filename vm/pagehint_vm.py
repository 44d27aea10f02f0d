#!/usr/bin/python3
"""pagehint VM runner: boot a guest under QEMU with a free-page-reporting
virtio-balloon, run one scenario, collect its results, always tear down.

  pagehint-vm --kernel bzImage --initrd initramfs.cpio.gz --scenario NAME
              [--mem MIB] [--smp N] [--timeout S] [--out DIR]
              [--env KEY=VALUE]... [--append ARGS] [--accel kvm|tcg]

The scenario (guest/scenarios/NAME.sh, or a path) and its KEY=VALUE
parameters are put in a folder shared with the guest over virtio-9p; the
guest writes its results to out/ in that folder. Meanwhile the runner
samples the QEMU process's RSS and timestamps, on the host clock, every
marker file the guest creates in out/, so host memory can be lined up
with what the guest did. Everything lands in DIR/result.json.

Exit status: 0 scenario passed and the kernel log is clean, 1 scenario
failed, timed out or the kernel log has a splat, 2 bad usage.
"""
import argparse
import ctypes
import json
import mmap
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SCENARIOS = os.path.join(TOP, "guest", "scenarios")
SAMPLE_S = 0.05
# The guest RAM's own Rss (ram_rss_kib) every RAM_EVERY samples: 0.2 s.
RAM_EVERY = 4
# The virtio-serial port the guest's hintstat streams its JSON lines to.
GUEST_PORT = "org.pagehint.hintstat"
# Kernel log lines that fail a run even when the scenario passed
# (the libbpf/ci and vmtest convention).
SPLAT_RE = re.compile(r"BUG:|kernel BUG at|WARNING:|Oops|soft lockup|RCU stall|"
                      r"rcu_sched self-detected stall|Kernel panic|"
                      r"general protection fault|KASAN:|UBSAN:")


class UsageError(Exception):
    pass


class KvmBroken(Exception):
    """/dev/kvm opened but KVM could not run the guest."""

# Set once KVM failed in a boot of this process, so later runs go
# straight to TCG (the second line of defence behind the probe).
_kvm_failed = None
# The KVM verdict goes to stderr once per process, not once per boot.
_kvm_fallback_said = False

KVM_DEV = "/dev/kvm"
BOOT_ID = "/proc/sys/kernel/random/boot_id"
# Some hosts (nested, sandboxed) hand out a /dev/kvm that opens and
# creates a VM and a vCPU, then never runs the guest, or runs it far
# slower than TCG: QEMU spins silently. So KVM is proven before it is
# used: a 512-byte boot sector that writes 0x2a to isa-debug-exit makes
# QEMU exit with (0x2a << 1) | 1 = 85. It needs no kernel build, and
# SeaBIOS plus the boot sector take about 0.1 s under TCG, no more under
# a KVM that works: 3 s is a wide margin that still caps the cost. (A
# KVM that takes longer than that is no use either: one whose SeaBIOS
# took 4.5 s would boot the guest kernel slower than TCG does.)
# The sector: mov dx,0xf4; mov al,0x2a; out dx,al; hlt; jmp $-1.
PROBE_SECTOR = bytes.fromhex("baf400" "b02a" "ee" "f4" "ebfd")
PROBE_EXIT = 85
PROBE_S = 3.0
# A KVM that runs the sector may still not run Linux: on one machine of
# the development kind the sector exited in 0.1 s, then every guest
# kernel spun with not a byte on its console, earlyprintk included. So
# the kernel the runs boot is probed too, with no initrd, until its
# banner reaches the console: about 1.6 s under TCG there (SeaBIOS, the
# decompressor, start_kernel), well under that on a KVM that works.
PROBE_KERNEL_S = 10.0
# SeaBIOS on q35 (AHCI) does not boot a disk smaller than this.
PROBE_DISK = 1 << 20

# Under TCG the guest's TSC is the host's own (QEMU's rdtsc returns
# cpu_get_host_ticks() unless -icount), but the guest kernel does not
# know its rate and calibrates it against the emulated PIT, which fails
# now and then on a busy host ("Unable to calibrate against PIT", then
# "Marking TSC unstable"); with no HPET or ACPI PM timer in the guest it
# then runs on a jiffies clock and every duration the page_hinting
# events carry is 0 or 4 ms. So the runner measures the host's TSC rate
# and hands it to the guest (tsc_early_khz=, see host_tsc_khz()). The
# console check below stays as a safety net: such a boot is started
# again, and flagged in result.json.
PANIC_RE = re.compile(r"Kernel panic - not syncing:.*")
CLOCK_BROKEN_RE = re.compile(r"Marking TSC unstable")
CLOCK_TRIES = 3
CLOCKSOURCE_RE = re.compile(r"clocksource: Switched to clocksource (\S+)")
JIFFY_CLOCKS = ("jiffies", "refined-jiffies")


class ClockBroken(Exception):
    """The guest kernel fell back to a jiffies clock while booting."""


def scenario_path(name):
    if os.sep in name or name.endswith(".sh"):
        if not os.path.isfile(name):
            raise UsageError(f"scenario file {name} not found")
        return name
    path = os.path.join(SCENARIOS, name + ".sh")
    if not os.path.isfile(path):
        known = sorted(f[:-3] for f in os.listdir(SCENARIOS)
                       if f.endswith(".sh") and f != "lib.sh")
        raise UsageError(f"unknown scenario '{name}' "
                         f"(known: {', '.join(known)})")
    return path


def qemu_binary():
    """QEMU, or the stand-in PAGEHINT_QEMU names (tests)."""
    q = os.environ.get("PAGEHINT_QEMU") or shutil.which("qemu-system-x86_64")
    if not q:
        raise UsageError("qemu-system-x86_64 not found "
                         "(hint: apt-get install qemu-system-x86)")
    return q


def machine_args(accel):
    """The machine and CPU of every boot; the KVM probe uses them too,
    so that what it proves is what the real boots ask for."""
    return ["-machine", f"q35,accel={accel}",
            "-cpu", "host" if accel == "kvm" else "max"]


def _kill_group(proc):
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


def _first_line(path):
    with open(path, errors="replace") as f:
        return next((l.strip() for l in f if l.strip()), "")


def probe_boot(qemu, accel, deadline_s=PROBE_S):
    """Boot the probe sector under accel: (True, None) when it ran to its
    exit within deadline_s, else (False, why)."""
    with tempfile.TemporaryDirectory(prefix="pagehint-probe.") as d:
        disk, bios, err = (os.path.join(d, n) for n in ("disk", "bios.log", "stderr"))
        with open(disk, "wb") as f:
            f.write(PROBE_SECTOR.ljust(510, b"\0") + b"\x55\xaa")
            f.truncate(PROBE_DISK)
        cmd = [qemu, *machine_args(accel), "-m", "16", "-smp", "1",
               "-nodefaults", "-no-reboot", "-display", "none",
               "-drive", f"file={disk},format=raw,if=ide",
               "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
               # SeaBIOS's log: tells a vCPU that never ran from a slow one
               "-chardev", f"file,id=bios,path={bios}",
               "-device", "isa-debugcon,iobase=0x402,chardev=bios"]
        with open(err, "wb") as e:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=e,
                                    stderr=e, preexec_fn=_die_with_parent)
        try:
            rc = proc.wait(deadline_s)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            ran = _nonempty(bios)
            return False, (f"the probe guest did not finish in {deadline_s:g} s "
                           + ("(SeaBIOS started: far slower than TCG)" if ran
                              else "(silent: the vCPU never ran)"))
        if rc == PROBE_EXIT:
            return True, None
        return False, _exit_reason(rc, err)


def _exit_reason(rc, err):
    how = (f"killed by {signal.Signals(-rc).name}" if rc < 0
           else f"exited {rc}")
    return f"QEMU {how}: {_first_line(err) or 'no message'}"


def _nonempty(path):
    try:
        return os.path.getsize(path) > 0
    except OSError:
        return False


def probe_kernel(qemu, accel, kernel, deadline_s=None):
    """Boot kernel under accel, no initrd, until the first byte of its
    console: (True, None), or (False, why) when QEMU exits first or
    nothing comes within deadline_s (PROBE_KERNEL_S)."""
    deadline_s = deadline_s or PROBE_KERNEL_S
    with tempfile.TemporaryDirectory(prefix="pagehint-probe.") as d:
        cons, err = os.path.join(d, "console"), os.path.join(d, "stderr")
        cmd = [qemu, *machine_args(accel), "-m", "256", "-smp", "1",
               "-kernel", kernel, "-append", "console=ttyS0 panic=-1",
               "-nodefaults", "-no-reboot", "-display", "none",
               "-serial", f"file:{cons}"]
        with open(err, "wb") as e:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=e,
                                    stderr=e, preexec_fn=_die_with_parent)
        end = time.monotonic() + deadline_s
        try:
            while not _nonempty(cons):
                rc = proc.poll()
                if rc is not None:
                    return False, _exit_reason(rc, err)
                if time.monotonic() > end:
                    return False, (f"the guest kernel printed nothing in "
                                   f"{deadline_s:g} s under it, though the "
                                   f"probe sector ran")
                time.sleep(0.02)
            return True, None
        finally:
            _kill_group(proc)


def _kvm_cache_path():
    d = "/run" if os.access("/run", os.W_OK) else tempfile.gettempdir()
    return (os.environ.get("PAGEHINT_KVM_CACHE")
            or os.path.join(d, "pagehint-kvm-probe.json"))


def kvm_verdict(qemu, kernel=None):
    """Whether KVM can run a guest here: {"usable", "reason", "probe_s",
    "cached"}. A /dev/kvm that does not open is checked every time (cheap,
    and permissions change); the probe (the sector, then kernel when
    given) runs once per machine boot and QEMU binary: its verdict is
    cached, keyed on the boot id, the binary's path and mtime (a QEMU
    upgrade probes again) and whether a kernel was probed, not which:
    whether KVM runs Linux is the host's property."""
    try:
        os.close(os.open(KVM_DEV, os.O_RDWR))
    except OSError as e:
        return {"usable": False, "reason": f"{KVM_DEV}: {e.strerror}",
                "probe_s": None, "cached": False}
    with open(BOOT_ID) as f:
        key = {"boot_id": f.read().strip(), "qemu": qemu,
               "qemu_mtime": os.stat(qemu).st_mtime,
               "probe": "sector+kernel" if kernel else "sector"}
    path = _kvm_cache_path()
    try:
        with open(path) as f:
            cached = json.load(f)
        if {k: cached.get(k) for k in key} == key:
            return dict(cached["verdict"], cached=True)
    except (OSError, ValueError, KeyError, TypeError):
        pass
    t0 = time.monotonic()
    usable, why = probe_boot(qemu, "kvm")
    if usable and kernel:
        usable, why = probe_kernel(qemu, "kvm", kernel)
    verdict = {"usable": usable, "reason": why,
               "probe_s": round(time.monotonic() - t0, 3)}
    tmp = f"{path}.{os.getpid()}"
    with open(tmp, "w") as f:
        json.dump(dict(key, verdict=verdict), f)
    os.replace(tmp, path)       # atomic: a concurrent reader sees one or the other
    return dict(verdict, cached=False)


def _say_kvm_fallback(why):
    global _kvm_fallback_said
    if not _kvm_fallback_said:
        print(f"pagehint-vm: KVM not usable here ({why}); running under TCG",
              file=sys.stderr, flush=True)
        _kvm_fallback_said = True


_tsc_khz = None


def host_tsc_khz():
    """The host's TSC rate in kHz, which is the TCG guest's TSC rate.

    Measured, not read from dmesg or /proc/cpuinfo (neither is always
    there or right, e.g. on a host that is itself a VM): rdtsc against
    CLOCK_MONOTONIC over 0.1 s, each end taken from the tightest of 100
    (clock, rdtsc, clock) triples. CLOCK_MONOTONIC is the clock QEMU's
    emulated timers (PIT, local APIC) and so the guest's jiffies follow.
    None when the host's TSC does not tick at a constant rate.
    Measured once per process."""
    global _tsc_khz
    if _tsc_khz is None:
        with open("/proc/cpuinfo") as f:
            flags = next((l.split() for l in f if l.startswith("flags")), [])
        _tsc_khz = _measure_tsc_khz() if "constant_tsc" in flags else 0
    return _tsc_khz or None


def _measure_tsc_khz():
    # rdtsc; shl rdx,32; or rax,rdx; ret
    code = bytes.fromhex("0f31" "48c1e220" "4809d0" "c3")
    page = mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | mmap.PROT_WRITE
                     | mmap.PROT_EXEC)
    page.write(code)
    rdtsc = ctypes.CFUNCTYPE(ctypes.c_uint64)(
        ctypes.addressof(ctypes.c_char.from_buffer(page)))

    def pair():
        best = None
        for _ in range(100):
            a = time.monotonic_ns()
            tsc = rdtsc()
            b = time.monotonic_ns()
            if best is None or b - a < best[0]:
                best = (b - a, tsc, (a + b) // 2)
        return best[1:]

    tsc0, ns0 = pair()
    time.sleep(0.1)
    tsc1, ns1 = pair()
    return round((tsc1 - tsc0) * 1e6 / (ns1 - ns0))


def ram_rss_kib(pid, mem_mib):
    """Rss in KiB of the guest's RAM in QEMU: the anonymous mappings of
    exactly -m MiB in /proc/PID/smaps (QEMU maps each RAM block on its
    own, with a guard page after it, so it is never merged). None when
    QEMU is gone or holds no such mapping. VmRSS minus this is QEMU's own
    memory (its code, heap, TCG's translation buffer), which no hinting
    can return. About 1 ms per read for a 1 GiB guest: the kernel walks
    the page tables of every mapping, so it is sampled less often than
    VmRSS (a counter read)."""
    want, kib, found, size = mem_mib * 1024, 0, False, None
    try:
        with open(f"/proc/{pid}/smaps") as f:
            for line in f:
                if line[0] in "0123456789abcdef":    # a mapping's header
                    parts = line.split()
                    lo, hi = (int(x, 16) for x in parts[0].split("-"))
                    anon = len(parts) < 6
                    size = (hi - lo) // 1024 if anon else None
                elif size == want and line.startswith("Rss:"):
                    kib += int(line.split()[1])
                    found = True
    except (FileNotFoundError, ProcessLookupError):
        return None
    return kib if found else None


def rss_kib(pid):
    """VmRSS of a process in KiB, None once it is gone."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError):
        return None
    return None


def _die_with_parent():
    # QEMU gets SIGKILL if the runner dies, even by SIGKILL: no orphans.
    libc = ctypes.CDLL(None, use_errno=True)
    PR_SET_PDEATHSIG = 1
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    os.setpgrp()


def _console_lines(console):
    try:
        with open(console, errors="replace") as f:
            return f.read().splitlines()
    except FileNotFoundError:
        return []


def clock_broken(console):
    """The console line saying the guest lost its TSC clock, or None."""
    return next((l.strip() for l in _console_lines(console)
                 if CLOCK_BROKEN_RE.search(l)), None)


def guest_clocksource(console):
    """The clocksource the guest kernel last switched to, or None."""
    found = [m.group(1) for m in map(CLOCKSOURCE_RE.search,
                                     _console_lines(console)) if m]
    return found[-1] if found else None


def find_splats(*texts):
    out = []
    for t in texts:
        for line in t.splitlines():
            if SPLAT_RE.search(line):
                out.append(line.strip())
    return out


def reclaim_times(rss, t_free, freed_kib, fractions=(0.5, 0.9)):
    """Seconds from t_free until the RSS fell by fraction * freed_kib.

    rss: [(t, kib)] samples on the host clock. The reference is the RSS
    at the last sample before t_free. None where the drop never happened.
    """
    before = [k for t, k in rss if t <= t_free]
    if not before:
        return {f: None for f in fractions}
    ref = before[-1]
    res = {}
    for f in fractions:
        target = ref - f * freed_kib
        res[f] = next((t - t_free for t, k in rss
                       if t > t_free and k <= target), None)
    return res


def check_inputs(kernel, initrd, scenario):
    """The scenario script and QEMU; UsageError for anything missing."""
    for what, path in (("kernel image", kernel), ("initramfs", initrd)):
        if not os.path.isfile(path):
            raise UsageError(f"{what} {path} not found (hint: make kernel guest)")
    return scenario_path(scenario), qemu_binary()


def run(kernel, initrd, scenario, out, accel=None, pin_tsc=True,
        clock_tries=CLOCK_TRIES, **kw):
    """Run a scenario; see _run for the other arguments.

    accel=None: KVM where kvm_verdict() proved it can run a guest, else
    TCG, with the reason in result["kvm_fallback"] and one line on stderr
    per process. A KVM boot that fails all the same (QEMU exits or names
    KVM on stderr before the guest is up) is repeated under TCG.
    pin_tsc: under TCG, tell the guest the host's TSC rate instead of
    letting it calibrate (False only to measure how the old way fares).
    clock_tries: TCG boots to try while the guest loses its TSC clock.
    """
    global _kvm_failed
    _, qemu = check_inputs(kernel, initrd, scenario)
    r = probe = fallback = None
    if accel is None:
        probe = None if _kvm_failed else kvm_verdict(qemu, kernel)
        fallback = _kvm_failed or (None if probe["usable"] else probe["reason"])
        if not fallback:
            try:
                r = _run(kernel, initrd, scenario, out, accel="kvm",
                         kvm_watch=True, **kw)
            except KvmBroken as e:
                _kvm_failed = fallback = str(e)
        if fallback:
            _say_kvm_fallback(fallback)
    if r is None:
        tsc_khz = host_tsc_khz() if pin_tsc else None
        # A tracer attached by on_start follows one QEMU: no restart then,
        # the run only says its clock broke. The last try runs regardless.
        tries = 1 if kw.get("on_start") else clock_tries
        for attempt in range(tries):
            try:
                r = _run(kernel, initrd, scenario, out, accel=accel or "tcg",
                         tsc_khz=tsc_khz, clock_check=attempt < tries - 1, **kw)
                break
            except ClockBroken:
                pass
        r["clock_restarts"] = attempt
    if probe:
        r["kvm_probe"] = probe
    if fallback:
        r["kvm_fallback"] = fallback
    with open(os.path.join(r["out"], "result.json"), "w") as f:
        json.dump(r, f, indent=1)
    return r


QMP_S = 30.0


class QmpError(RuntimeError):
    pass


class Qmp:
    """A QMP client on QEMU's unix socket, every read with a deadline:
    the runner starts QEMU paused (-S) when a tracer must attach first,
    and continues it with cont once on_start returned."""

    def __init__(self, path, proc, deadline_s=QMP_S):
        deadline = time.monotonic() + deadline_s
        while True:
            if proc.poll() is not None:
                raise QmpError(f"QEMU exited {proc.returncode} before its QMP socket was up")
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.settimeout(max(0.1, deadline - time.monotonic()))
                s.connect(path)
                break
            except (FileNotFoundError, ConnectionRefusedError):
                s.close()
                if time.monotonic() > deadline:
                    raise QmpError(f"no QMP socket {path} within {deadline_s} s")
                time.sleep(0.02)
        self.sock = s
        self.f = s.makefile("rw")
        greeting = self._read()
        if "QMP" not in greeting:
            raise QmpError(f"not a QMP greeting: {greeting}")
        self.cmd("qmp_capabilities")

    def _read(self):
        try:
            line = self.f.readline()
        except OSError as e:
            raise QmpError(f"QMP socket closed: {e}") from e
        if not line:
            raise QmpError("QMP socket closed")
        return json.loads(line)

    def cmd(self, name, **args):
        """Run a command; its "return" value (events are skipped)."""
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        try:
            self.f.write(json.dumps(msg) + "\n")
            self.f.flush()
        except OSError as e:
            raise QmpError(f"QMP socket closed: {e}") from e
        while True:
            r = self._read()
            if "return" in r:
                return r["return"]
            if "error" in r:
                raise QmpError(f"{name}: {r['error'].get('desc', r['error'])}")

    def close(self):
        try:
            self.f.close()
        except OSError:
            pass        # what was left to send goes nowhere
        self.sock.close()


def _kvm_error(path):
    with open(path, errors="replace") as f:
        for line in f:
            if "KVM" in line or "kvm" in line:
                return line.strip()
    return None


def _start_traced(proc, qmp_path, on_start, result):
    """QEMU waits paused (-S): on_start(pid) attaches, then cont."""
    try:
        qmp = Qmp(qmp_path, proc)
    except QmpError:
        if proc.poll() is not None:
            # Under KVM, a QEMU that died at once is the caller's to judge.
            on_start(proc.pid)
            return
        raise
    try:
        result["qmp_status_at_start"] = qmp.cmd("query-status")["status"]
        on_start(proc.pid)
        qmp.cmd("cont")
    finally:
        qmp.close()


def _run(kernel, initrd, scenario, out, mem=1024, smp=2, timeout=300,
         env=None, append="", accel="tcg", extra_qemu=None, on_sample=None,
         kvm_watch=False, balloon=True, serial_socket=None, on_start=None,
         clock_check=False, tsc_khz=None):
    """serial_socket: a unix socket path QEMU listens on (server, no wait)
    for a virtio-serial port named GUEST_PORT, which the guest sees as
    /dev/vportNpM (its name in /sys/class/virtio-ports/*/name).
    on_start(pid): called once QEMU is started, before sampling begins
    (e.g. to attach a tracer); it may block. QEMU is then started paused
    (-S, with a QMP socket) and continued (QMP cont) only once on_start
    returned, so the tracer sees the guest from its first instruction;
    result["qmp_status_at_start"] is QEMU's state when on_start ran.
    kvm_watch: raise KvmBroken when QEMU exits or names KVM on stderr
    before the guest is up. clock_check: raise ClockBroken when the
    console says the guest lost its TSC. tsc_khz: the guest's TSC rate
    (TCG), passed as tsc_early_khz=."""
    script, qemu = check_inputs(kernel, initrd, scenario)

    out = os.path.abspath(out)
    share = os.path.join(out, "share")
    if os.path.exists(share):
        shutil.rmtree(share)
    os.makedirs(os.path.join(share, "out"))
    shutil.copy(script, os.path.join(share, "scenario.sh"))
    shutil.copy(os.path.join(SCENARIOS, "lib.sh"),
                os.path.join(share, "scenario-lib.sh"))
    with open(os.path.join(share, "scenario.env"), "w") as f:
        for k, v in (env or {}).items():
            f.write(f"{k}='{v}'\n")
    console = os.path.join(out, "console.log")
    # A restarted boot must not read the last one's console.
    if os.path.exists(console):
        os.unlink(console)

    # tsc=reliable: under TCG the clocksource watchdog finds the emulated
    # TSC "skewed" against jiffies and falls back to a 4 ms jiffies clock,
    # which would make every nanosecond the tracepoints measure useless.
    # tsc_early_khz: the guest takes the TSC rate as given and skips its
    # PIT calibration (arch/x86/kernel/tsc.c, determine_cpu_tsc_frequencies);
    # with no HPET or PM timer the later refinement has no reference and
    # keeps it.
    cmdline = "console=ttyS0 panic=-1 tsc=reliable"
    if tsc_khz:
        cmdline += f" tsc_early_khz={tsc_khz}"
    cmdline = f"{cmdline} {append}".strip()
    cmd = [qemu, *machine_args(accel), "-m", str(mem), "-smp", str(smp),
           "-kernel", kernel, "-initrd", initrd, "-append", cmdline,
           "-nodefaults", "-no-reboot", "-display", "none",
           "-serial", f"file:{console}",
           "-fsdev", f"local,id=share,path={share},security_model=none",
           "-device", "virtio-9p-pci,fsdev=share,mount_tag=pagehint"]
    if balloon:
        cmd += ["-device", "virtio-balloon-pci,free-page-reporting=on"]
    if serial_socket:
        cmd += ["-device", "virtio-serial-pci,id=vser",
                "-chardev", f"socket,id=hsport,path={serial_socket},server=on,wait=off",
                "-device", f"virtserialport,bus=vser.0,chardev=hsport,name={GUEST_PORT}"]
    cmd += extra_qemu or []
    qmp_dir = qmp_path = None
    if on_start:
        # A short path: unix socket names are limited to 107 bytes.
        qmp_dir = tempfile.mkdtemp(prefix="pagehint-qmp.")
        qmp_path = os.path.join(qmp_dir, "qmp.sock")
        cmd += ["-S", "-qmp", f"unix:{qmp_path},server=on,wait=off"]

    result = {"kernel": os.path.abspath(kernel), "initrd": os.path.abspath(initrd),
              "scenario": scenario, "env": env or {}, "accel": accel,
              "mem_mib": mem, "smp": smp, "balloon": balloon,
              "tsc_early_khz": tsc_khz, "qemu_cmd": cmd,
              "markers": {}, "rss": [], "ram_rss": []}
    outdir = os.path.join(share, "out")
    seen = set()
    proc = None
    t0 = time.monotonic()
    timed_out = False

    def on_term(signum, frame):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, on_term)
    try:
        with open(os.path.join(out, "qemu.stderr"), "wb") as err:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                    stdout=err, stderr=err,
                                    preexec_fn=_die_with_parent)
        result["qemu_pid"] = proc.pid
        if on_start:
            _start_traced(proc, qmp_path, on_start, result)
        while True:
            now = time.monotonic() - t0
            k = rss_kib(proc.pid)
            if k is not None:
                result["rss"].append((round(now, 3), k))
                if len(result["rss"]) % RAM_EVERY == 1:
                    ram = ram_rss_kib(proc.pid, mem)
                    if ram is not None:
                        result["ram_rss"].append((round(now, 3), ram))
            for name in os.listdir(outdir):
                if name not in seen:
                    seen.add(name)
                    result["markers"][name] = round(now, 3)
            exited = proc.poll() is not None
            if kvm_watch and "boot" not in seen and (exited or int(now * 20) % 10 == 0):
                why = _kvm_error(os.path.join(out, "qemu.stderr"))
                if why or exited:
                    raise KvmBroken(why or f"QEMU exited {proc.returncode} under KVM")
            if clock_check and "boot" not in seen:
                why = clock_broken(console)
                if why:
                    raise ClockBroken(why)
            if on_sample:
                on_sample(now, k, result["markers"])
            if proc.poll() is not None:
                break
            if now > timeout:
                timed_out = True
                break
            time.sleep(SAMPLE_S)
    finally:
        if proc and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        signal.signal(signal.SIGTERM, old)
        if qmp_dir:
            shutil.rmtree(qmp_dir, ignore_errors=True)

    result["wall_s"] = round(time.monotonic() - t0, 3)
    result["qemu_rc"] = proc.returncode
    result["timed_out"] = timed_out

    def read(name):
        try:
            with open(os.path.join(outdir, name), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return None

    rc = read("rc")
    result["guest_rc"] = int(rc) if rc and rc.strip().isdigit() else None
    boot = read("boot")
    result["guest_boot_s"] = float(boot) if boot else None
    dmesg = read("dmesg.txt") or ""
    with open(console, errors="replace") as f:
        cons = f.read()
    result["splats"] = sorted(set(find_splats(dmesg, cons)))
    result["clocksource"] = guest_clocksource(console)
    result["clock_broken"] = (clock_broken(console) is not None
                              or result["clocksource"] in JIFFY_CLOCKS)
    result["ok"] = (result["guest_rc"] == 0 and not timed_out
                    and not result["splats"])
    panic = next((l.strip() for l in cons.splitlines() if PANIC_RE.search(l)),
                 None)
    result["panic"] = panic
    if panic:
        result["error"] = f"guest kernel panic: {PANIC_RE.search(panic).group(0)}"
    elif result["guest_rc"] is None and not timed_out:
        tail = [l for l in cons.splitlines() if "pagehint-init:" in l]
        result["error"] = tail[-1] if tail else "guest died before writing out/rc"
    elif timed_out:
        result["error"] = f"timed out after {timeout} s"
    elif result["guest_rc"] != 0:
        result["error"] = f"scenario exited {result['guest_rc']} (see {outdir}/scenario.log)"
    elif result["splats"]:
        result["error"] = "kernel log: " + result["splats"][0]
    result["outdir"] = outdir
    result["out"] = out
    return result


def parse_env(items):
    env = {}
    for it in items:
        k, sep, v = it.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", k) or "'" in v:
            raise UsageError(f"bad --env '{it}' (hint: KEY=VALUE, no quotes)")
        env[k] = v
    return env


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="pagehint-vm", description=__doc__.split("\n\n")[0],
        epilog="example: pagehint-vm --kernel build/kernel-default/arch/x86/"
               "boot/bzImage --initrd build/guest/initramfs.cpio.gz "
               "--scenario oneshot --env MIB=600 --out build/run")
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--initrd", required=True)
    ap.add_argument("--scenario", required=True)
    ap.add_argument("--out", default=None, help="result folder (default: a new temp dir)")
    ap.add_argument("--mem", type=int, default=1024, help="guest MiB (1024)")
    ap.add_argument("--smp", type=int, default=2)
    ap.add_argument("--timeout", type=float, default=300)
    ap.add_argument("--env", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--append", default="", help="extra kernel command line")
    ap.add_argument("--accel", choices=("kvm", "tcg"))
    ap.add_argument("--no-balloon", action="store_true",
                    help="no virtio-balloon (the KUnit suite needs that)")
    a = ap.parse_args(argv)
    try:
        out = a.out or tempfile.mkdtemp(prefix="pagehint-vm.")
        r = run(a.kernel, a.initrd, a.scenario, out, accel=a.accel,
                mem=a.mem, smp=a.smp, timeout=a.timeout,
                env=parse_env(a.env), append=a.append,
                balloon=not a.no_balloon)
    except UsageError as e:
        print(f"pagehint-vm: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("pagehint-vm: interrupted, VM torn down", file=sys.stderr)
        return 130
    rss = [k for _, k in r["rss"]]
    print(f"pagehint-vm: {r['accel']} boot {r['guest_boot_s']} s, "
          f"wall {r['wall_s']} s, rss max {max(rss, default=0) // 1024} MiB "
          f"end {rss[-1] // 1024 if rss else 0} MiB, results in {out}")
    if not r["ok"]:
        print(f"pagehint-vm: {r.get('error')}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
