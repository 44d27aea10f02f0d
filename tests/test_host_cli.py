"""hintstat host on this machine, no VM: its errors (usage, dead pid,
several VMMs, not root) and its counts on a stand-in VMM whose every
discard is known in advance: madvise inside and outside its guest-RAM
mapping, MADV_FREE, a failing call, an advice that is not a discard, a
punched hole in a file that is not guest RAM, and pages touched again
after a discard (refaults). Every count must be exact.
"""
import json
import os
import re
import shutil
import signal
import subprocess
import urllib.request

import pytest

from conftest import BUILD, need
from hostlib import (MIB, RAM_MIB, FakeVmm, GuestStream, Lines, RamVmm,
                     free_port, kill_all, qemu_link, wait_for)

HINTSTAT = os.path.join(BUILD, "bin", "hintstat")

def hintstat(*args, pre=(), timeout=60):
    return subprocess.run(list(pre) + [need(HINTSTAT, "make tools"), "host"] +
                          list(args), capture_output=True, text=True,
                          timeout=timeout)


def one_line_and_hint(p, rc):
    lines = p.stderr.splitlines()
    assert p.returncode == rc, p.stderr
    assert len(lines) == 2, p.stderr
    assert lines[0].startswith("hintstat: ")
    return lines


@pytest.mark.parametrize("args", [
    ["-p", "abc"], ["-p", "0"], ["-p", "1", "-n", "qemu"], ["--ram", "lots"],
    ["-j", "-H"], ["-i", "0"], ["1", "2", "3"], ["--prom", ":0"],
    ["--bogus"]])
def test_bad_arguments_exit_2(args):
    p = hintstat(*args)
    lines = p.stderr.splitlines()
    assert p.returncode == 2, p.stderr
    assert lines[0].startswith("hintstat host: ") and "--help" in lines[-1]


def test_help_has_examples():
    p = hintstat("--help")
    assert p.returncode == 0
    assert "EXAMPLES:" in p.stdout and "hintstat host -p" in p.stdout
    assert "--guest" in p.stdout


def test_dead_pid_is_a_clear_error():
    child = subprocess.Popen(["true"])
    child.wait()
    lines = one_line_and_hint(hintstat("-p", str(child.pid)), 1)
    assert lines[0] == f"hintstat: no process with pid {child.pid}"
    assert lines[1].startswith("hint: ")


def test_no_such_vmm_name():
    lines = one_line_and_hint(hintstat("-n", "no-such-vmm-name"), 1)
    assert lines[0] == "hintstat: no process named like 'no-such-vmm-name'"


def test_not_root():
    p = hintstat("-p", "1", pre=["setpriv", "--reuid=65534", "--regid=65534",
                                 "--clear-groups"])
    assert one_line_and_hint(p, 1) == [
        "hintstat: missing capabilities: loading BPF needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN)",
        "hint: run it as root, e.g. sudo hintstat host, or give it CAP_BPF and CAP_PERFMON"]


@pytest.mark.parametrize("ram", ["16777217T", "-1", "18446744073709551615K",
                                 " 5M", "+5M", "0", "4X", "4GiBs"])
def test_ram_sizes_that_are_invalid_or_would_wrap(ram):
    """16777217T is 2^64 + 2^40 bytes: it wrapped to 1 TiB before."""
    p = hintstat("--ram", ram, "-p", "1")
    assert p.returncode == 2, p.stderr
    assert f"invalid --ram '{ram}'" in p.stderr


def test_every_vmm_at_once_each_with_its_figures(tmp_path):
    """No -p: every VMM named like -n's NAME is traced at once, a JSON
    line each per interval with its pid and -name, a Prometheus series
    each labelled by pid and vm; a VMM started later is picked up within
    an interval, one that exits is retired with its summary while the
    others go on. Each VMM's discarded bytes equal its own madvise calls
    (the stand-ins' known discards, a different size each)."""
    link, prom = qemu_link(tmp_path), tmp_path / "host.prom"
    vmms, host = [], None

    def start(i):
        v = RamVmm("4k", 16, argv0=link,
                   extra=["-m", "16M", "-name", f"guest=vm{i},debug-threads=on"])
        vmms.append(v.__enter__())
        return v

    try:
        for i in range(3):
            start(i)
        host = subprocess.Popen(
            [need(HINTSTAT, "make tools"), "host", "-n", "qemu-system-pag",
             "-j", "--prom", str(prom), "0.2"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        out, err = Lines(host.stdout), Lines(host.stderr)
        err.wait(lambda l: "Tracing every VMM" in l, 60, "Tracing")
        for i, v in enumerate(vmms):
            v.do(*(f"dontneed {k * MIB} {MIB}" for k in range(i + 1)))
        late = start(3)
        err.wait(lambda l: f"pid {late.pid} (vm3)" in l, 30, "the late VMM")
        late.do("dontneed 0 4194304")
        want = {v.pid: (i + 1) * MIB for i, v in enumerate(vmms)}
        want[late.pid] = 4 * MIB
        seen = {}

        def all_seen(line):
            o = json.loads(line)
            seen[o["pid"]] = o
            return all(p in seen and seen[p]["total"]["discarded_bytes"] == b
                       for p, b in want.items())
        out.wait(all_seen, 30, "every VMM's discards")
        metrics = prom.read_text()
        vmms[1].exit()
        err.wait(lambda l: f"(pid {vmms[1].pid}) exited while tracing" in l,
                 30, "the exit")
        summary = err.wait(lambda l: l.startswith("hintstat: summary of vm1"),
                           30, "its summary")
        out.wait(lambda l: json.loads(l)["pid"] == vmms[0].pid, 30, "more")
        host.send_signal(signal.SIGINT)
        host.wait(30)
        rest = err.rest()
    finally:
        kill_all(host)
        for v in vmms:
            v.__exit__()
    assert host.returncode == 0, rest
    for p, o in seen.items():
        i = [v.pid for v in vmms].index(p)
        assert o["name"] == f"vm{i}" and o["comm"] == "qemu-system-pag"
        assert o["total"]["outside_bytes"] == 0
        assert o["total"]["user_faults"] is None    # not per VMM: see man
        assert f'pagehint_host_discarded_bytes_total{{pid="{p}",vm="vm{i}"}} ' \
            f'{want[p]}' in metrics or p == late.pid
    assert "1.0 MiB" not in summary and "discarded 2.0 MiB" in summary
    assert "summary of vm0" in rest and "summary of vm2" in rest
    assert rest.count("summary of vm1") == 1     # once, when it exited
    assert "# TYPE pagehint_host_discarded_bytes_total counter" in metrics


def test_every_vmm_table_has_a_row_each_and_a_total(tmp_path):
    link = qemu_link(tmp_path)
    with RamVmm("4k", 16, argv0=link, extra=["-m", "16M", "-name", "a"]) as a, \
            RamVmm("4k", 16, argv0=link, extra=["-m", "16M", "-name", "b"]) as b:
        p = hintstat("-n", "qemu-system-pag", "0.2", "1")
    assert p.returncode == 0, p.stderr
    rows = [l.split() for l in p.stdout.splitlines() if l.strip()]
    assert rows[0][:3] == ["PID", "VM", "DISC_MiB"]
    assert [r[:2] for r in rows[1:3]] == [[str(a.pid), "a"], [str(b.pid), "b"]] \
        or [r[:2] for r in rows[1:3]] == [[str(b.pid), "b"], [str(a.pid), "a"]]
    assert rows[3][0] == "TOTAL"


def totals_done(line):
    """A JSON line whose totals hold every discard of the stand-in VMM."""
    t = json.loads(line)["total"]
    return t["discarded_bytes"] == 5 * MIB and t["refault_bytes"] == 10 * 4096


@pytest.fixture(scope="module")
def fake_vmm_run(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("host")
    prom = tmp / "host.prom"
    rec = tmp / "host.hsrec"
    host = recorder = None
    with FakeVmm() as vmm:
        try:
            host = subprocess.Popen(
                [need(HINTSTAT, "make tools"), "host", "-p", str(vmm.pid),
                 "--ram", f"{RAM_MIB}M", "-j", "--prom", str(prom), "0.2"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            # The same window recorded, with the ring buffer.
            recorder = subprocess.Popen(
                [HINTSTAT, "host", "record", "-o", str(rec), "-p",
                 str(vmm.pid), "--ram", f"{RAM_MIB}M", "-j", "0.3"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            outs = [Lines(p.stdout) for p in (host, recorder)]
            errs = [Lines(p.stderr) for p in (host, recorder)]
            for e in errs:
                e.wait(lambda l: "Tracing" in l, 60, "Tracing")
            vmm.go()
            # Both saw every discard, and the file says so too.
            for o in outs:
                o.wait(totals_done, 30, "the totals")
            wait_for(lambda: prom.exists() and
                     f"pagehint_host_discarded_bytes_total {5 * MIB}\n"
                     in prom.read_text(), 30, "the Prometheus file")
            metrics = prom.read_text()
            vmm.exit()
            host.wait(30)
            recorder.wait(30)
        finally:
            kill_all(host, recorder)
        out, rec_out = (o.rest() for o in outs)
        err, rec_err = (e.rest() for e in errs)
    assert recorder.returncode == 0, rec_err
    return host.returncode, err, [json.loads(l) for l in out.splitlines()], \
        metrics, vmm.pid, (rec, [json.loads(l) for l in rec_out.splitlines()])


@pytest.mark.exact('host discards', a='hintstat host (syscall tracepoints)',
                   b="the stand-in VMM's own calls, known in advance",
                   independent=True, why='what the test did vs what was traced')
def test_counts_are_exact(fake_vmm_run):
    _, _, lines, _, _, _ = fake_vmm_run
    t = lines[-1]["total"]
    assert t["dontneed_bytes"] == 3 * MIB
    assert t["free_bytes"] == 2 * MIB
    assert t["remove_bytes"] == 0
    assert t["discarded_bytes"] == t["madvised_bytes"] == 5 * MIB
    assert t["discard_calls"] == 4
    # Two calls failed, one inside guest RAM, one outside: neither is a
    # discard, nor outside-RAM bytes (as host_discards.bt counts).
    assert t["errors"] == 2
    assert t["outside_bytes"] == MIB and t["outside_calls"] == 1
    assert t["punched_bytes"] == 0 and t["punched_other_bytes"] == 65536
    # Resident again: the 10 pages touched after their DONTNEED; not the
    # MADV_FREE pages (mapped until reclaim), nor the failed call's.
    assert t["refault_bytes"] == 10 * 4096
    assert t["user_faults"] == 10
    assert t["untracked_pages"] == 0
    # Intervals add up; every discard is in a latency histogram.
    for k in ("discarded_bytes", "discard_calls", "refault_bytes",
              "outside_bytes"):
        assert sum(o[k] for o in lines) == t[k], k
    assert sum(b["count"] for o in lines for b in o["hist"]["discard_ns"]) == 4


def test_json_lines_describe_the_vmm(fake_vmm_run):
    _, _, lines, _, pid, _ = fake_vmm_run
    for o in lines:
        assert o["version"] == 1 and o["mode"] == "host" and o["pid"] == pid
        assert o["comm"] == "python3" and o["ram_bytes"] == RAM_MIB * MIB
        assert o["ram_file"] is False and o["guest"] == {"stream": "none"}
        assert o["rss_bytes"] > RAM_MIB * MIB // 2
        # The pagemap scan's cost, every interval: only marked words read.
        assert o["refault_scan_ns"] >= 0
        assert 0 <= o["refault_scan_pages"] <= RAM_MIB * MIB // 4096


def test_vmm_exit_ends_with_a_summary(fake_vmm_run):
    rc, err, _, _, pid, _ = fake_vmm_run
    assert rc == 0, err
    assert f"hintstat: python3 (pid {pid}) exited while tracing" in err
    assert re.search(r"summary over [\d.]+ s: discarded 5\.0 MiB of guest RAM "
                     r"in 4 calls .* 2 failed; 1\.0 MiB outside guest RAM in 1 "
                     r"calls; 0\.0 MiB \(10 pages\) refaulted", err), err


def test_prometheus_file(fake_vmm_run):
    _, _, _, m, _, _ = fake_vmm_run
    assert "# TYPE pagehint_host_discarded_bytes_total counter" in m
    assert f"pagehint_host_discarded_bytes_total {5 * MIB}\n" in m
    assert f"pagehint_host_refault_bytes_total {10 * 4096}\n" in m
    assert "pagehint_host_user_faults_total 10\n" in m
    assert "pagehint_host_discard_duration_seconds_count 4\n" in m
    assert re.search(r"^pagehint_host_rss_bytes \d+$", m, re.M)


@pytest.mark.exact('host discards', a='hintstat report of a host record',
                   b="hintstat host's live totals",
                   independent=False, why='both run tools/hintstat/host_aggregate.h')
def test_record_and_report_give_the_live_totals(fake_vmm_run, tmp_path):
    _, _, lines, _, pid, (rec, live) = fake_vmm_run
    assert live[-1]["total"] == lines[-1]["total"]
    p = subprocess.run([HINTSTAT, "report", "-j", str(rec)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    rep = json.loads(p.stdout)
    assert rep["mode"] == "host" and rep["pid"] == pid
    assert rep["comm"] == "python3" and rep["ram_bytes"] == RAM_MIB * MIB
    # Replayed through the aggregator the BPF side runs: the same totals.
    assert rep["total"] == live[-1]["total"]
    assert rep["discarded_bytes"] == 5 * MIB
    assert rep["refault_bytes"] == 10 * 4096
    # The scan's cost is a live figure: not in a record.
    assert rep["refault_scan_ns"] is None
    assert rep["rss_bytes"] > 0
    # A table too, and a record cut inside a record is refused.
    t = subprocess.run([HINTSTAT, "report", str(rec)], capture_output=True,
                       text=True, timeout=60)
    assert t.returncode == 0 and "host mode, python3 (pid" in t.stdout
    cut = tmp_path / "cut.hsrec"
    cut.write_bytes(rec.read_bytes()[:-10])
    c = subprocess.run([HINTSTAT, "report", str(cut)], capture_output=True,
                       text=True, timeout=60)
    assert c.returncode == 1 and "truncated record" in c.stderr


def test_record_needs_an_output():
    p = hintstat("record", "-p", "1")
    assert p.returncode == 2 and "record needs -o FILE" in p.stderr


def test_guest_stream_join_flags_divergence_with_its_reason(tmp_path):
    """A guest stream (here a unix socket this test serves, as QEMU's
    chardev does) reports 2 MiB more than the stand-in VMM discards; its
    command line names a VFIO device: the join says how much and why,
    then notices the stream closing and keeps tracing."""
    host = None
    with GuestStream(str(tmp_path / "guest.sock")) as g, \
            FakeVmm("-device", "vfio-pci,host=0000:01:00.0") as vmm:
        try:
            host = subprocess.Popen(
                [HINTSTAT, "host", "-p", str(vmm.pid), "--ram", f"{RAM_MIB}M",
                 "-j", "--guest", g.path, "0.2"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            outl, errl = Lines(host.stdout), Lines(host.stderr)
            g.accept()
            errl.wait(lambda l: "Tracing" in l, 60, "Tracing")
            g.total(10 * MIB)           # the stream's start: its base
            outl.wait(lambda l: json.loads(l)["guest"].get("lines") == 1, 30,
                      "the first guest line joined")
            vmm.go()
            g.total(17 * MIB)           # 7 MiB hinted, 5 MiB discarded
            outl.wait(lambda l: json.loads(l)["guest"].get(
                "not_discarded_bytes") == 2 * MIB, 30, "the divergence")
            g.close()                   # the guest goes away
            errl.wait(lambda l: "guest stream gone" in l, 30, "stream gone")
            outl.wait(lambda l: json.loads(l)["guest"]["stream"] == "gone",
                      30, "a line after the stream's end")
            vmm.exit()
            host.wait(30)
        finally:
            kill_all(host)
        out, err = outl.rest(), errl.rest()
    assert host.returncode == 0, err
    lines = [json.loads(l) for l in out.splitlines()]
    flagged = [o["guest"] for o in lines if o["guest"].get("not_discarded_bytes")]
    assert flagged, ([o["guest"] for o in lines], err)
    g = flagged[-1]
    assert g["hinted_bytes"] == 7 * MIB and g["host_discarded_bytes"] == 5 * MIB
    assert g["not_discarded_bytes"] == 2 * MIB
    assert g["reason"].startswith("VFIO device assigned")
    assert lines[-1]["guest"]["stream"] == "gone"
    assert "hintstat: guest stream gone (socket closed)" in err
    assert "2.0 MiB not discarded: VFIO device assigned" in err


HINTSTAT_ASAN = os.path.join(BUILD, "hintstat", "asan", "hintstat")


def asan_clean(err):
    assert "AddressSanitizer" not in err and "runtime error:" not in err, err


def test_record_guest_and_http_at_once_on_the_asan_build(tmp_path):
    """host record, --guest and --prom :PORT together put three fds in
    the poll set (pfd[2] overflowed the stack); on the ASan+UBSan build,
    every count still exact, /metrics answered, the record complete."""
    port, rec = free_port(), tmp_path / "all.hsrec"
    host = None
    with GuestStream(str(tmp_path / "g.sock")) as g, FakeVmm() as vmm:
        try:
            host = subprocess.Popen(
                [need(HINTSTAT_ASAN, "make tools"), "host", "record", "-o",
                 str(rec), "-p", str(vmm.pid), "--ram", f"{RAM_MIB}M", "-j",
                 "--guest", g.path, "--prom", f":{port}", "0.2"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            out, err = Lines(host.stdout), Lines(host.stderr)
            g.accept()
            err.wait(lambda l: "Tracing" in l, 60, "Tracing")
            g.total(10 * MIB)
            vmm.go()
            g.total(15 * MIB)

            def joined(line):
                o = json.loads(line)
                return (o["total"]["discarded_bytes"] == 5 * MIB and
                        o["guest"].get("hinted_bytes") == 5 * MIB)
            try:
                out.wait(joined, 30, "the joined line")
            except AssertionError:
                host.wait(10)
                raise AssertionError(err.rest())
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics",
                                        timeout=10) as r:
                body = r.read().decode()
            assert f"pagehint_host_discarded_bytes_total {5 * MIB}\n" in body
            vmm.exit()
            host.wait(60)
        finally:
            kill_all(host)
        errs = err.rest()
    assert host.returncode == 0, errs
    asan_clean(errs)
    p = subprocess.run([HINTSTAT, "report", "-j", str(rec)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["total"]["discarded_bytes"] == 5 * MIB


def test_guest_stream_is_parsed_checked_and_rebased(tmp_path):
    """The guest is not trusted: a nested "bytes" is not the total's, a
    NUL byte, a 70 KiB line, a line that is not JSON and a total past
    what the guest's RAM allows are each refused and counted, and never
    stall the lines after them; a restarted guest hintstat (totals lower
    than before) starts a new segment instead of an underflow."""
    from hostlib import FakeVmm, GuestStream, Lines, kill_all
    host = None
    with GuestStream(str(tmp_path / "g.sock")) as g, FakeVmm() as vmm:
        try:
            host = subprocess.Popen(
                [HINTSTAT, "host", "-p", str(vmm.pid), "--ram", f"{RAM_MIB}M",
                 "-j", "--guest", g.path, "0.1"],
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            out, err = Lines(host.stdout), Lines(host.stderr)
            g.accept()
            err.wait(lambda l: "Tracing" in l, 60, "Tracing")

            def state(**want):
                def ok(line):
                    o = json.loads(line)["guest"]
                    return all(o.get(k) == v for k, v in want.items())
                return json.loads(out.wait(ok, 30, f"guest {want}"))["guest"]
            g.total(10 * MIB)
            state(lines=1, hinted_bytes=0)      # the join's base, then
            vmm.go()                            # 5 MiB discarded
            g.send(b'{"mode":"tracepoints","total":{"zones":[{"bytes":999}],'
                   b'"bytes":%d,"failed_bytes":0}}\n' % (12 * MIB))
            state(hinted_bytes=2 * MIB, bad_lines=0)
            g.send(b'{"total":\0{"bytes":1}}\n')
            g.total(13 * MIB)
            state(hinted_bytes=3 * MIB, bad_lines=1)
            g.total(2 * MIB)            # the guest's hintstat restarted
            s = state(hinted_bytes=5 * MIB, restarts=1)
            assert s["not_discarded_bytes"] == 0, s
            g.total(2 * MIB + (1 << 60))
            g.send(b"x" * 70000 + b"\n" + b"not json\n")
            g.total(3 * MIB)
            s = state(hinted_bytes=6 * MIB, bad_lines=4)
            assert s["host_discarded_bytes"] == 5 * MIB, s
            assert s["not_discarded_bytes"] == MIB, s
            g.close()
            vmm.exit()
            host.wait(30)
        finally:
            kill_all(host)
        errs = err.rest()
    assert host.returncode == 0, errs
    assert "guest stream: 1 bad line, the latest: not JSON" in errs
    assert "guest stream: 4 bad lines, the latest: not JSON" in errs
    assert re.search(r"guest stream: \d+ lines taken, 4 refused, the latest: "
                     r"not JSON.*, 1 restarts", errs), errs
    assert "while the guest streamed: guest hinted 6.0 MiB, host discarded " \
           "5.0 MiB, 1.0 MiB not discarded" in errs, errs


# The refault figure: bytes of discarded guest RAM resident again, read
# from the VMM's pagemap, checked against what the stand-in touched and
# against its own smaps (the kernel's Rss of the RAM mapping).
HUGE = 2 * MIB


class HostRun:
    """hintstat host -j on a RamVmm; .until(pred) waits for a JSON line
    whose totals pred accepts and returns them."""

    def __init__(self, vmm, *extra, ram=f"{RAM_MIB}M"):
        """ram: the --ram argument, None for none (the command line's)."""
        self.p = subprocess.Popen(
            [need(HINTSTAT, "make tools"), "host", "-p", str(vmm.pid),
             *(["--ram", ram] if ram else []), "-j", *extra, "0.1"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.out, self.err = Lines(self.p.stdout), Lines(self.p.stderr)
        self.err.wait(lambda l: "Tracing" in l, 60, "Tracing")

    def until(self, what, pred):
        line = self.out.wait(lambda l: pred(json.loads(l)["total"]), 30, what)
        return json.loads(line)["total"]

    def finish(self, vmm):
        vmm.exit()
        self.p.wait(30)
        lines = [json.loads(l) for l in self.out.rest().splitlines()]
        return lines, self.err.rest()


def discard_then_touch(vmm, discards, discarded, touches, **kw):
    """hintstat host on vmm: the discards, until discarded bytes are
    counted, then the touches. The totals once the refaults reach the
    RAM blocks' smaps Rss growth, that growth and the AnonHugePages
    growth (bytes), the JSON lines and stderr; hintstat host exited 0."""
    host = None
    try:
        host = HostRun(vmm, **kw)
        vmm.do(*discards)
        host.until("the discards", lambda t: t["discarded_bytes"] == discarded)
        before = vmm.smaps_kb("Rss"), vmm.smaps_kb("AnonHugePages")
        vmm.do(*touches)
        grown = (vmm.smaps_kb("Rss") - before[0]) * 1024
        huge = (vmm.smaps_kb("AnonHugePages") - before[1]) * 1024
        t = host.until(f"{grown} refault bytes",
                       lambda t: t["refault_bytes"] >= grown)
        lines, err = host.finish(vmm)
    finally:
        kill_all(host and host.p)
    assert host.p.returncode == 0, err
    return t, (grown, huge), lines, err


def sysfs_choice(path):
    """The [chosen] word of a sysfs policy file, None without it."""
    try:
        with open(path) as f:
            m = re.search(r"\[(\S+)\]", f.read())
    except OSError:
        return None
    return m.group(1) if m else None


@pytest.mark.exact('refault bytes (THP)', a='hintstat host (pagemap scan)',
                   b="the stand-in's smaps Rss growth across its touches",
                   independent=True, why="the kernel's Rss vs pagemap entries")
def test_thp_refault_counts_the_whole_huge_page():
    """A byte touched in a discarded 2 MiB range of THP-backed RAM maps a
    huge page again: 2 MiB resident again, not one 4 KiB fault."""
    thp = sysfs_choice("/sys/kernel/mm/transparent_hugepage/enabled")
    if thp not in ("always", "madvise"):
        pytest.skip(f"THP unavailable: transparent_hugepage/enabled is {thp}")
    n, k = 4, 2
    with RamVmm("thp") as vmm:
        huge = vmm.smaps_kb("AnonHugePages") * 1024
        if huge < RAM_MIB * MIB:
            pytest.skip(f"THP did not back the guest RAM: {huge} of "
                        f"{RAM_MIB * MIB} bytes in huge pages")
        t, (grown, huge), lines, err = discard_then_touch(
            vmm, [f"dontneed {i * 2 * HUGE} {HUGE}" for i in range(n)],
            n * HUGE, [f"touch {i * 2 * HUGE + 12345}" for i in range(k)])
    assert t["refault_bytes"] == grown
    assert lines[-1]["total"]["refault_bytes"] == grown
    assert sum(o["refault_bytes"] for o in lines) == grown
    if huge != k * HUGE:
        pytest.skip("THP did not back the refaulted ranges (4 KiB pages); "
                    f"refault bytes equal the Rss growth, {grown}")
    assert grown == k * HUGE


@pytest.mark.exact('refault bytes (memfd)', a='hintstat host (pagemap scan)',
                   b="the stand-in's touches and its smaps Rss growth",
                   independent=True, why="the kernel's Rss vs pagemap entries")
def test_memfd_punched_holes_refault():
    """Shared memfd RAM, discarded by fallocate(PUNCH_HOLE) on the fd the
    VMM keeps open: the holes are discarded guest RAM, and the pages
    written again in them are resident again."""
    punches = [(0, MIB), (8 * MIB, MIB), (20 * MIB, 2 * MIB)]
    touches = [0, 4096, 5 * 4096, 8 * MIB + 65536, 21 * MIB + 4096,
               21 * MIB + 8192]
    with RamVmm("memfd") as vmm:
        t, (grown, _), lines, err = discard_then_touch(
            vmm, [f"punch {o} {n}" for o, n in punches], 4 * MIB,
            [f"touch {o}" for o in touches])
    assert "(file-backed)" in err
    assert lines[0]["ram_file"] is True
    assert t["punched_bytes"] == t["discarded_bytes"] == 4 * MIB
    assert t["punch_calls"] == 3 and t["madvised_bytes"] == 0
    assert t["refault_bytes"] == grown
    assert lines[-1]["total"]["refault_bytes"] == grown
    shmem = sysfs_choice("/sys/kernel/mm/transparent_hugepage/shmem_enabled")
    if shmem in (None, "never", "deny", "advise"):
        assert grown == len(touches) * 4096


def test_a_page_refaulted_twice_counts_twice():
    """Discarded, touched, discarded and touched again, the two touches
    in different intervals: 8 KiB resident again, 4 KiB in each."""
    host = None
    with RamVmm("4k") as vmm:
        try:
            host = HostRun(vmm)
            for i in (1, 2):
                vmm.do("dontneed 8192 4096")
                host.until(f"discard {i}",
                           lambda t: t["discarded_bytes"] == i * 4096)
                vmm.do("touch 8192")
                host.until(f"refault {i}",
                           lambda t: t["refault_bytes"] == i * 4096)
            lines, err = host.finish(vmm)
        finally:
            kill_all(host and host.p)
    assert host.p.returncode == 0, err
    assert lines[-1]["total"]["refault_bytes"] == 2 * 4096
    assert [o["refault_bytes"] for o in lines if o["refault_bytes"]] == \
        [4096, 4096]
    assert "(1 pages) refaulted" not in err and "(2 pages) refaulted" in err


def test_unreadable_pagemap_is_unknown_not_zero():
    """pagemap hidden (here /dev/null bound over it in a mount namespace
    of its own): the refault and huge page split figures are null, "-" and absent from the
    Prometheus file, never 0, and stderr says why once."""
    with FakeVmm() as vmm:
        pagemap = f"/proc/{vmm.pid}/pagemap"
        for mode in ("-j", "--prom"):
            extra = [mode] if mode == "-j" else []
            prom = f"/tmp/pagehint-refault-{vmm.pid}.prom"
            cmd = [need(HINTSTAT, "make tools"), "host", "-p", str(vmm.pid),
                   "--ram", f"{RAM_MIB}M", "--prom", prom, *extra, "0.1", "2"]
            p = subprocess.run(
                [need(shutil.which("unshare") or "/usr/bin/unshare",
                      "util-linux"), "-m", "sh", "-c",
                 f'mount --bind /dev/null {pagemap} && exec "$@"', "sh", *cmd],
                capture_output=True, text=True, timeout=60)
            try:
                metrics = open(prom).read()
            finally:
                if os.path.exists(prom):
                    os.unlink(prom)
            assert p.returncode == 0, p.stderr
            why = [l for l in p.stderr.splitlines()
                   if l.startswith("hintstat: refaults unknown")]
            assert why == [f"hintstat: refaults unknown: cannot read "
                           f"{pagemap}: short read"], p.stderr
            assert "; refaults unknown; huge page splits unknown; RSS" \
                in p.stderr
            assert "hintstat: huge page splits unknown: the VMM's pagemap " \
                "cannot be read" in p.stderr
            assert "pagehint_host_refault_bytes_total" not in metrics
            assert "pagehint_host_thp_splits_total" not in metrics
            if mode == "-j":
                lines = [json.loads(l) for l in p.stdout.splitlines()]
                assert len(lines) == 2
                for o in lines:
                    assert o["refault_bytes"] is None
                    assert o["total"]["refault_bytes"] is None
                    assert o["thp_splits"] is o["total"]["thp_splits"] is None
                    assert o["refault_scan_ns"] is None
            else:
                rows = [l.split() for l in p.stdout.splitlines()
                        if l.strip() and not l.lstrip().startswith("DISC")]
                assert len(rows) == 2 and all(r[6] == "-" for r in rows), \
                    p.stdout


def qemu_named(tmp_path):
    return qemu_link(tmp_path, "qemu-system-x86_64")


@pytest.mark.exact('discarded and refault bytes, 2 RAM blocks',
                   a='hintstat host (blocks from the command line, pagemap)',
                   b="the stand-in's madvise calls and smaps Rss growth",
                   independent=True, why="the kernel's Rss vs pagemap entries")
def test_numa_memdevs_are_every_block_of_guest_ram(tmp_path):
    """QEMU with two NUMA memdevs (one as libvirt's JSON -object) has no
    mapping of its -m size: both blocks are found from the command line,
    discards in either are inside guest RAM and refaults in either are
    counted, as the blocks' smaps Rss growth says."""
    argv = ["-m", "80M", "-object", "memory-backend-ram,id=m0,size=32M",
            "-object", '{"qom-type":"memory-backend-ram","id":"m1",'
            '"size":50331648}', "-numa", "node,memdev=m0",
            "-numa", "node,memdev=m1"]
    with RamVmm("4k", [32, 48], argv0=qemu_named(tmp_path),
                extra=argv) as vmm:
        t, (grown, _), lines, err = discard_then_touch(
            vmm, [f"dontneed 0 {MIB}", f"dontneed {36 * MIB} {2 * MIB}"],
            3 * MIB, ["touch 4096", f"touch {36 * MIB}", f"touch {37 * MIB}"],
            ram=None)
    assert "guest RAM 80 MiB in 2 blocks" in err
    assert lines[0]["ram_bytes"] == 80 * MIB
    assert t["outside_bytes"] == 0 and t["madvise_calls"] == 2
    assert t["refault_bytes"] == grown == 3 * 4096


def test_a_punch_marks_only_its_own_file(tmp_path):
    """Two memfd blocks: a hole punched at offset 0 of the second file is
    not the first file's offset 0; touching the first file's page there
    is no refault, touching the second's is."""
    host = None
    with RamVmm("memfd", [16, 24]) as vmm:
        try:
            host = HostRun(vmm, ram="16M,24M")
            vmm.do(f"punch {16 * MIB} {MIB}")
            host.until("the punch", lambda t: t["discarded_bytes"] == MIB)
            vmm.do("touch 0")                   # file 1, never discarded
            before = vmm.rss_kb()
            vmm.do(f"touch {16 * MIB}")         # file 2, punched
            grown = (vmm.rss_kb() - before) * 1024
            t = host.until("the refault", lambda t: t["refault_bytes"] > 0)
            lines, err = host.finish(vmm)
        finally:
            kill_all(host and host.p)
    assert host.p.returncode == 0, err
    assert "in 2 blocks" in err
    assert t["refault_bytes"] == grown == 4096
    assert lines[-1]["total"]["refault_bytes"] == 4096


def test_a_block_hotplugged_later_is_found(tmp_path):
    """A block declared (--ram 32M,16M) but mapped after hintstat host
    started, as a pc-dimm or virtio-mem backend added at run time: the
    next interval's re-scan finds it, says so, and its discards are
    inside guest RAM from then on."""
    host = None
    with RamVmm("4k", [32]) as vmm:
        try:
            host = HostRun(vmm, ram="32M,16M")
            vmm.do("plug 16777216")
            host.err.wait(lambda l: "now 48 MiB in 2 blocks" in l, 30,
                          "the re-scan")
            vmm.do(f"dontneed {40 * MIB} {MIB}")
            t = host.until("the discard", lambda t: t["discarded_bytes"] == MIB)
            lines, err = host.finish(vmm)
        finally:
            kill_all(host and host.p)
    assert host.p.returncode == 0, err
    assert "guest RAM 32 MiB in 1 block\n" in "".join(host.err.all)
    assert t["outside_bytes"] == 0
    assert lines[-1]["ram_bytes"] == 48 * MIB


def vmstat_field(name):
    with open("/proc/vmstat") as f:
        return next(int(l.split()[1]) for l in f if l.split()[0] == name)


@pytest.mark.exact('host huge pages split', a='hintstat host (cut bits, PAGEMAP_SCAN)',
                   b="the host's /proc/vmstat thp_split_pmd",
                   independent=True, why="the kernel's split counter vs page-table scans")
def test_thp_splits_by_partial_discards_are_counted():
    """THP-backed RAM: a 4 KiB discard inside each of k PMD-mapped huge
    pages splits each (the host's thp_split_pmd rises by k); 2 MiB
    discards of whole aligned units and a second 4 KiB discard in a
    split unit split nothing. hintstat host counts k."""
    thp = sysfs_choice("/sys/kernel/mm/transparent_hugepage/enabled")
    if thp not in ("always", "madvise"):
        pytest.skip(f"THP unavailable: transparent_hugepage/enabled is {thp}")
    k, host = 3, None
    with RamVmm("thp") as vmm:
        if vmm.smaps_kb("AnonHugePages") * 1024 < RAM_MIB * MIB:
            pytest.skip("THP did not back the stand-in's RAM")
        # MADV_NOHUGEPAGE: khugepaged must not collapse a split unit
        # again before the scan (it splits nothing mapped already).
        vmm.do(f"advise 0 {RAM_MIB * MIB} 15")
        try:
            host = HostRun(vmm)
            if host.until("a line", lambda t: True)["thp_splits"] is None:
                pytest.skip("no PAGEMAP_SCAN here: " + "".join(host.err.all))
            before = vmstat_field("thp_split_pmd")
            vmm.do(*(f"dontneed {i * HUGE + 8192} 4096" for i in range(k)),
                   f"dontneed {10 * HUGE} {2 * HUGE}",     # whole units
                   "dontneed 16384 4096")                  # split already
            split = vmstat_field("thp_split_pmd") - before
            t = host.until(f"{k} splits", lambda t: t["thp_splits"] >= k)
            lines, err = host.finish(vmm)
        finally:
            kill_all(host and host.p)
    assert host.p.returncode == 0, err
    assert split >= k, "the host split fewer huge pages than discarded into"
    assert t["thp_splits"] == k == split
    assert lines[-1]["total"]["thp_splits"] == k
    assert f"{k} host huge pages split" in err
