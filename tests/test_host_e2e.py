"""hintstat host end to end: a patched guest runs several allocate/touch/
free cycles (guest/scenarios/host-cycles.sh) while `hintstat host -p PID
--guest SOCKET -j` traces its QEMU from before the guest boots until
QEMU exits. The independent truth is the guest kernel's own lifetime
counter of pages reported without error (/proc/vmstat
page_hinting_reported): over the VM's whole life the bytes the host saw
discarded inside guest RAM must equal it, exactly. Refaults (bytes of
discarded guest RAM resident again in QEMU, from its pagemap) come from
reallocating hinted memory: non-zero, bounded by what was discarded and
by what QEMU's RSS grew by plus what it dropped.
The guest's hintstat streams over virtio-serial; once it stops, host mode
must keep running and say the stream is gone.
"""
import json
import os
import pathlib
import shutil
import signal
import subprocess
import time

import pytest

from conftest import BUILD, RUNS, need, run_vm
from hostlib import free_port, kill_all
from promlib import node_exporter, query, start_prometheus

pytestmark = pytest.mark.vm

MIB = 1 << 20
ROUNDS, CYCLE_MIB = 3, 311
# The host side runs the ASan+UBSan build (make tools): the end-to-end
# run is where host mode meets a real QEMU and a real guest stream.
HINTSTAT = os.path.join(BUILD, "hintstat", "asan", "hintstat")


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


class HostTracer:
    """on_start: hintstat host on the new QEMU, attached before it boots."""

    def __init__(self, out, sock, prom_port=None):
        """prom_port: also serve Prometheus text on it (--prom)."""
        self.out, self.sock, self.proc, self.pid = out, sock, None, None
        self.prom_port = prom_port

    def __call__(self, pid):
        self.pid = pid
        self.stdout = open(os.path.join(self.out, "host.json"), "w")
        self.stderr_path = os.path.join(self.out, "host.err")
        self.stderr = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(
            [HINTSTAT, "host", "-p", str(pid), "-j", "--guest", self.sock,
             *(["--prom", f"127.0.0.1:{self.prom_port}"] if self.prom_port
               else []), "1"],
            stdout=self.stdout, stderr=self.stderr, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if "Tracing" in self.err() or self.proc.poll() is not None:
                break
            time.sleep(0.05)
        if "Tracing" in self.err():
            return
        self.proc.wait(30)
        self.stdout.close()
        self.stderr.close()
        self.proc = None
        # A QEMU that died at once (the runner's KVM probe on a host whose
        # /dev/kvm cannot run guests) is retried under TCG: so is this.
        if alive(pid):
            raise RuntimeError(f"hintstat host did not attach: {self.err()}")

    def err(self):
        with open(self.stderr_path) as f:
            return f.read()

    def wait(self):
        """QEMU is gone: hintstat host must notice and exit by itself."""
        try:
            rc = self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGINT)
            self.proc.wait(10)
            rc = "still running 30 s after QEMU exited"
        self.stdout.close()
        self.stderr.close()
        return rc


# Guest RAM as two NUMA memdevs, two RAM blocks and no mapping of -m's
# size: hintstat host must find both from QEMU's command line (the
# default single -m block is what the demo and test_host_cli run).
NUMA_MEMDEVS = ["-object", "memory-backend-ram,id=m0,size=512M",
                "-object", "memory-backend-ram,id=m1,size=512M",
                "-numa", "node,nodeid=0,memdev=m0",
                "-numa", "node,nodeid=1,memdev=m1"]


@pytest.fixture(scope="module")
def host_run(kernel, initrd):
    need(HINTSTAT, "make tools")
    name = "host-cycles"
    out = os.path.join(RUNS, name)
    os.makedirs(out, exist_ok=True)
    sock = os.path.join(out, "hintstat.sock")
    if os.path.exists(sock):
        os.unlink(sock)
    host_port, ne_port, prom_port = free_port(), free_port(), free_port()
    tracer = HostTracer(out, sock, host_port)
    # The guest writes textfile/guest.prom into the shared folder.
    textdir = os.path.join(out, "share", "out", "textfile")
    servers = []
    try:
        servers.append(node_exporter(ne_port, textdir))
        servers.append(start_prometheus(prom_tmp(out), prom_port,
                                        {"node": ne_port},
                                        later={"hintstat-host": host_port}))
        run = run_vm(name, kernel, initrd, "host-cycles",
                     {"MIB": CYCLE_MIB, "ROUNDS": ROUNDS}, timeout=600,
                     serial_socket=sock, on_start=tracer,
                     extra_qemu=NUMA_MEMDEVS)
        window = f"{int(run.r['wall_s']) + 30}s"
        # The guest's counter has a series per zone and order (order 9 or
        # 10 blocks, as fragmentation has it): each one's maximum is its
        # last value, their sum the total. The host's is one per VM.
        stored = {what: query(prom_port, q) for what, q in (
            ("guest", f"sum(max_over_time(pagehint_hinted_bytes_total[{window}]))"),
            ("host", f"max_over_time(pagehint_host_discarded_bytes_total[{window}])"))}
        # 1 until the guest made the folder, 0 from then on.
        stored["textfile_error"] = query(prom_port, "node_textfile_scrape_error")
        # node_exporter was scraped every second of the run, all up.
        stored["node_up_min"] = query(prom_port, f'min_over_time(up{{job="node"}}[{window}])')
        stored["node_scrapes"] = query(prom_port, f'count_over_time(up{{job="node"}}[{window}])')
        stored["wall_s"] = {(): run.r["wall_s"]}
    finally:
        rc = tracer.wait() if tracer.proc else None
        kill_all(*servers)
    run.assert_clean()
    with open(os.path.join(out, "host.json")) as f:
        lines = [json.loads(l) for l in f]
    run.prom = stored
    return run, tracer, rc, lines


def prom_tmp(out):
    """A fresh folder for Prometheus's database, next to the run."""
    d = os.path.join(out, "prometheus")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    return pathlib.Path(d)


def vmstat(run, name):
    return dict((k, int(v)) for k, v in
                (l.split() for l in run.file(name).splitlines()))


def test_host_mode_ends_cleanly_when_the_vmm_exits(host_run):
    run, tracer, rc, lines = host_run
    err = tracer.err()
    assert rc == 0, err
    assert tracer.pid == run.r["qemu_pid"]
    assert f"hintstat: mode: host, pid {tracer.pid} (qemu-system-x86), " \
        "guest RAM 1024 MiB in 2 blocks" in err
    assert f"qemu-system-x86 (pid {tracer.pid}) exited while tracing" in err
    assert "hintstat: summary over" in err
    assert "AddressSanitizer" not in err and "runtime error:" not in err
    assert len(lines) >= 10
    assert all(o["mode"] == "host" and o["pid"] == tracer.pid for o in lines)


@pytest.mark.exact('reported bytes', a='guest vmstat page_hinting_reported',
                   b="hintstat host: QEMU's discards inside guest RAM",
                   independent=True, why="the guest kernel's counter vs the host's syscalls")
def test_hinted_in_guest_equals_discarded_on_host_exactly(host_run):
    run, _, _, lines = host_run
    idle, end = vmstat(run, "vmstat.idle"), vmstat(run, "vmstat.end")
    # No pass after the scenario's last count (the delay was raised).
    assert end["page_hinting_reported"] == idle["page_hinting_reported"]
    assert end["page_hinting_failed"] == 0
    hinted = end["page_hinting_reported"] * 4096
    t = lines[-1]["total"]
    print(f"guest: {hinted} bytes reported (vmstat), host: "
          f"{t['discarded_bytes']} discarded in {t['discard_calls']} calls, "
          f"{t['outside_bytes']} outside guest RAM in {t['outside_calls']} "
          f"calls, {t['refault_bytes']} bytes refaulted, "
          f"{t['user_faults']} user faults, {t['kvm_faults']} KVM faults")
    assert hinted >= ROUNDS * CYCLE_MIB * MIB // 2, "the cycles were not reported"
    assert t["discarded_bytes"] == hinted
    assert t["errors"] == 0
    # QEMU discards anonymous RAM with MADV_DONTNEED, one call per entry.
    assert t["dontneed_bytes"] == t["madvised_bytes"] == hinted
    assert t["discard_calls"] == t["madvise_calls"] >= hinted // (4 * MIB)
    # Intervals add up to the totals.
    assert sum(o["discarded_bytes"] for o in lines) == hinted
    assert sum(o["discard_calls"] for o in lines) == t["discard_calls"]
    # Every discard call is in the latency histogram.
    n = sum(b["count"] for o in lines for b in o["hist"]["discard_ns"])
    assert n == t["discard_calls"]


def test_refaults_nonzero_and_bounded_by_discards(host_run):
    run, _, _, lines = host_run
    t = lines[-1]["total"]
    if run.r["accel"] == "kvm":
        # Under KVM the guest's accesses fault in the kernel (EPT), not
        # in user mode: only the KVM fault tracepoint sees them.
        assert t["kvm_faults"] > 0
    else:
        assert t["user_faults"] > 0
    # From QEMU's pagemap, KVM or TCG alike: never unknown here (root).
    r = t["refault_bytes"]
    assert r is not None and r % 4096 == 0
    assert sum(o["refault_bytes"] for o in lines) == r
    # Once the first cycle's free was reported, all free guest RAM was
    # discarded: the later cycles' touches map discarded pages again.
    assert r >= CYCLE_MIB * MIB // 2
    assert r <= t["discarded_bytes"]
    # What became resident again is in QEMU's RSS unless dropped again:
    # RSS growth over the run plus every byte dropped bounds it (16 MiB
    # for RSS read a scan apart at the edges).
    grown = lines[-1]["rss_bytes"] - lines[0]["rss_bytes"]
    assert r <= grown + t["discarded_bytes"] + t["outside_bytes"] + 16 * MIB
    assert t["untracked_pages"] == 0
    print(f"refault scan: up to {max(o['refault_scan_ns'] or 0 for o in lines)}"
          f" ns, {max(o['refault_scan_pages'] or 0 for o in lines)} pages")


def test_rss_is_sampled_and_falls_after_the_frees(host_run):
    _, _, _, lines = host_run
    rss = [o["rss_bytes"] for o in lines]
    assert all(r > 0 for r in rss)
    # The guest touched 311 MiB three times and hinted it back each time.
    assert max(rss) - min(rss[rss.index(max(rss)):]) >= CYCLE_MIB * MIB // 2


def test_guest_stream_is_joined(host_run):
    run, _, _, lines = host_run
    up = [o for o in lines if o["guest"]["stream"] == "up"]
    assert len(up) >= 5
    g = up[-1]["guest"]
    assert g["mode"] == "tracepoints"
    # Everything the guest hinted while it streamed, the host discarded.
    assert g["hinted_bytes"] >= ROUNDS * CYCLE_MIB * MIB // 2
    assert g["hinted_bytes"] == g["host_discarded_bytes"]
    assert g["not_discarded_bytes"] == 0 and g["reason"] is None
    assert g["failed_bytes"] == 0
    # Before the stream, host mode said so.
    assert lines[0]["guest"]["stream"] in ("waiting", "up")


def test_host_mode_survives_the_guest_stream_stopping(host_run):
    run, tracer, rc, lines = host_run
    assert run.file("stream.rc").strip() == "0"
    states = [o["guest"]["stream"] for o in lines]
    first_gone = states.index("gone")
    assert "up" in states[:first_gone]
    # It kept tracing: several intervals after, the stream still gone.
    assert states[first_gone:].count("gone") >= 3
    assert "hintstat: guest stream gone" in tracer.err()
    assert rc == 0


@pytest.mark.exact('guest hinted bytes in Prometheus', a="Prometheus: the sum over zones and orders of max_over_time of the guest's pagehint_hinted_bytes_total (its --prom file in the shared folder, node_exporter's textfile collector)",
                   b="the guest's vmstat page_hinting_reported over the stream's window",
                   independent=True, why="the guest kernel's counter vs hintstat's BPF totals via two servers")
def test_prometheus_holds_the_guest_and_host_totals(host_run):
    """The fleet path end to end: the guest's hintstat writes Prometheus
    text into the folder it shares with the host, node_exporter serves
    it, Prometheus scrapes it and hintstat host every second. What
    Prometheus stored equals the guest's vmstat over the stream's window
    (guest side) and over the VM's life (host side)."""
    run, _, _, lines = host_run
    got = {k: list(v.values()) for k, v in run.prom.items()}
    assert got["textfile_error"] and got["textfile_error"][-1] == 0
    assert got["node_up_min"] == [1.0]
    assert got["node_scrapes"][0] >= got["wall_s"][0] - 2
    start, stop = vmstat(run, "vmstat.stream-start"), vmstat(run, "vmstat.stream-stopped")
    window = (stop["page_hinting_reported"] - start["page_hinting_reported"]) * 4096
    assert window >= ROUNDS * CYCLE_MIB * MIB // 2
    assert got["guest"] == [window]
    life = (vmstat(run, "vmstat.idle")["page_hinting_reported"]
            - vmstat(run, "vmstat.start")["page_hinting_reported"]) * 4096
    assert got["host"] == [life] == [lines[-1]["total"]["discarded_bytes"]]
