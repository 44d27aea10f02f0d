"""hintstat's exporters in front of the real servers a fleet runs:
Debian's prometheus-node-exporter (textfile collector) and prometheus,
both started here on loopback.

The truth is the stand-in VMMs' own discards (each madvise they make is
known in advance): what the servers hold must equal them.
"""
import json
import math
import os
import subprocess
import time

from conftest import BUILD, TOP, need, record_passes, trim_record
from hostlib import (MIB, RAM_MIB, Lines, RamVmm, free_port, kill_all,
                     qemu_link, wait_for)
from promlib import get, node_exporter, query, start_prometheus

HINTSTAT = os.path.join(BUILD, "bin", "hintstat")


def metric(text, line_start):
    """The value of the sample line that starts with line_start."""
    for line in text.splitlines():
        if line.startswith(line_start + " "):
            return float(line.split()[-1])
    return None


def test_node_exporter_textfile_collector_carries_hintstat(tmp_path):
    """hintstat host --prom DIR/hintstat.prom rewrites the file every
    0.1 s; node_exporter's textfile collector serves it on every scrape,
    with node_textfile_scrape_error 0, and the stand-in's 3 MiB of
    discards once they are made."""
    port = free_port()
    ne = node_exporter(port, tmp_path)
    host = None
    url = f"http://127.0.0.1:{port}/metrics"
    try:
        with RamVmm("4k") as vmm:
            host = subprocess.Popen(
                [need(HINTSTAT, "make tools"), "host", "-p", str(vmm.pid),
                 "--ram", f"{RAM_MIB}M", "--prom",
                 str(tmp_path / "hintstat.prom"), "0.1"],
                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
            Lines(host.stderr).wait(lambda l: "Tracing" in l, 60, "Tracing")
            wait_for((tmp_path / "hintstat.prom").exists, 30,
                     "hintstat's first file")
            vmm.do(f"dontneed 0 {MIB}", f"dontneed {4 * MIB} {2 * MIB}")
            scrapes, seen = 0, None
            deadline = time.monotonic() + 4
            while time.monotonic() < deadline:
                text = get(url)
                scrapes += 1
                assert metric(text, "node_textfile_scrape_error") == 0, text
                v = metric(text, "pagehint_host_discarded_bytes_total")
                assert v is not None, "a scrape without hintstat's series"
                seen = v
                time.sleep(0.05)
    finally:
        kill_all(host, ne)
    assert scrapes >= 20
    assert seen == 3 * MIB


def trace_every_vmm(port, procs):
    """hintstat host on every stand-in (qemu-system-pag*), Prometheus on
    127.0.0.1:port, added to procs once it traces."""
    host = subprocess.Popen(
        [need(HINTSTAT, "make tools"), "host", "-n", "qemu-system-pag",
         "--prom", f"127.0.0.1:{port}", "0.5"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    procs.append(host)
    Lines(host.stderr).wait(lambda l: "Tracing" in l, 60, "Tracing")


def test_prometheus_scrapes_every_vmm_and_the_guest_view(tmp_path):
    """A real Prometheus scraping hintstat host (every stand-in VMM,
    labelled) and hintstat's guest view here, every second: every scrape
    is up, and PromQL over what it stored gives each VMM's discards as
    they were made, and the same change over a window."""
    prom_port, host_port, guest_port = free_port(), free_port(), free_port()
    link = qemu_link(tmp_path)
    procs, vmms = [], []
    try:
        for name in ("a", "b"):
            v = RamVmm("4k", RAM_MIB, argv0=link,
                       extra=["-m", f"{RAM_MIB}M", "-name", f"guest={name}"])
            vmms.append(v.__enter__())
        trace_every_vmm(host_port, procs)
        procs.append(subprocess.Popen(
            [need(HINTSTAT, "make tools"), "--prom",
             f"127.0.0.1:{guest_port}", "0.5"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        procs.append(start_prometheus(tmp_path, prom_port,
                                      {"hintstat-host": host_port,
                                       "hintstat": guest_port}))
        t0 = time.time()
        vmms[0].do(f"dontneed 0 {MIB}")
        vmms[1].do(f"dontneed 0 {2 * MIB}", f"dontneed {8 * MIB} {MIB}")
        want = {"a": MIB, "b": 3 * MIB}

        def stored():
            got = query(prom_port, "pagehint_host_discarded_bytes_total")
            return {dict(k)["vm"]: v for k, v in got.items()} == want
        wait_for(stored, 30, "the discards in Prometheus", step=0.5)
        time.sleep(2)
        t1 = time.time()
        window = f"{int(t1 - t0) + 3}s"
        delta = query(prom_port, "max_over_time(pagehint_host_discarded_bytes_total"
                      f"[{window}]) - min_over_time(pagehint_host_discarded_bytes_total"
                      f"[{window}])", t1)
        ups = query(prom_port, f"min_over_time(up[{window}])", t1)
        scrapes = query(prom_port, f"count_over_time(up[{window}])", t1)
        guest = query(prom_port, "pagehint_passes_total")
    finally:
        kill_all(*procs)
        for v in vmms:
            v.__exit__()
    assert {dict(k)["vm"]: v for k, v in delta.items()} == want
    assert sorted(ups.values()) == [1.0, 1.0], ups
    assert all(n >= int(t1 - t0) for n in scrapes.values()), scrapes
    assert len(guest) == 1, "the guest view's passes were not scraped"


DASHBOARD = os.path.join(TOP, "fleet", "grafana", "pagehint.json")
SYNTHETIC = os.path.join(TOP, "tools", "hintstat", "fuzz", "corpus", "record",
                         "guest-synthetic.hsrec")


def panel_queries():
    """Every panel target's PromQL, with the dashboard's variables set
    as Grafana sets them for "All" and a rate window for 1 s scrapes."""
    with open(DASHBOARD) as f:
        dash = json.load(f)
    for panel in dash["panels"]:
        for t in panel["targets"]:
            expr = t["expr"]
            for var in ("$guest", "$host", "$vm"):
                expr = expr.replace(var, ".*")
            yield panel["title"], expr.replace("$__rate_interval", "10s")


def guest_prom(textdir, rec):
    """Write textdir/guest.prom from record rec as the textfile collector
    wants it: whole, by a rename from a name it does not read."""
    tmp = textdir / "guest.prom.tmp"
    p = subprocess.run([need(HINTSTAT, "make tools"), "report", "--prom",
                        str(tmp), str(rec)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    os.replace(tmp, textdir / "guest.prom")


def test_every_dashboard_panel_has_data(tmp_path):
    """The Grafana dashboard's every query, run against a Prometheus
    scraping hintstat host (stand-ins discarding, touching again and
    cutting into huge pages) and a guest's figures (the synthetic
    tracepoint-mode record replayed into node_exporter's textfile
    directory, its first pass, then all of it): each returns series; the
    host's rates are positive for the VMM that discarded; every quantile
    is a number, and the guest's pass duration quantiles fall in the log2
    bucket of the one pass that came within their window, its duration
    read from the record's bytes."""
    prom_port, host_port, ne_port = free_port(), free_port(), free_port()
    textdir = tmp_path / "textfile"
    textdir.mkdir()
    (ts1, _), (_, ns2) = record_passes(SYNTHETIC)
    first = tmp_path / "first-pass.hsrec"
    assert trim_record(SYNTHETIC, first, 0, ts1) > 0
    guest_prom(textdir, first)
    link = qemu_link(tmp_path)
    procs = []
    with RamVmm("thp", RAM_MIB, argv0=link,
                extra=["-m", f"{RAM_MIB}M", "-name", "guest=busy"]) as vmm:
        try:
            trace_every_vmm(host_port, procs)
            procs.append(node_exporter(ne_port, textdir))
            procs.append(start_prometheus(tmp_path, prom_port,
                                          {"hintstat-host": host_port,
                                           "node": ne_port}))
            wait_for(lambda: passes(prom_port) == 1, 30,
                     "the first pass in Prometheus", step=0.2)
            for i in range(8):          # a discard and a refault a second
                vmm.do(f"dontneed {i * 4 * MIB + 8192} {MIB}",
                       f"touch {i * 4 * MIB + 8192}")
                if i == 3:              # the second pass, 4 s before the end
                    guest_prom(textdir, SYNTHETIC)
                time.sleep(1)
            wait_for(lambda: passes(prom_port) == 2, 30,
                     "the second pass in Prometheus", step=0.2)
            results = {(title, expr): query(prom_port, expr)
                       for title, expr in panel_queries()}
        finally:
            kill_all(*procs)
    empty = [t for (t, _), r in results.items() if not r]
    assert not empty, f"panels without data: {empty}"
    for (title, expr), r in results.items():
        if "discarded" in expr or "refault" in expr:
            assert max(r.values()) > 0, (title, r)
        if "histogram_quantile" in expr:
            assert not any(math.isnan(v) for v in r.values()), (title, r)
        if "pass_duration" in expr:
            # a log2 bucket holding d spans at most (d/2, 2d]
            d = ns2 / 1e9
            assert all(d / 2 - 1e-9 <= v <= 2 * d for v in r.values()), \
                (title, d, r)


def passes(port):
    """pagehint_passes_total as Prometheus last scraped it (None before)."""
    got = query(port, 'pagehint_passes_total{job="node"}')
    return max(got.values()) if got else None
