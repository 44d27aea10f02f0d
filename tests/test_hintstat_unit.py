"""hintstat's report helpers (tools/hintstat/report.c), through the C unit
test binary, and the CLI's error paths on the host. The helpers: histogram maths and percentiles checked in C, the printers
against golden outputs and, independently of the goldens, against the
formats' own rules (JSON parses into bpftrace's histogram shape,
Prometheus buckets are cumulative and end in +Inf == _count, tables fit
80 columns).
"""
import json
import os
import re
import subprocess

import pytest

from conftest import BUILD, TOP, need

TEST_BIN = os.path.join(BUILD, "hintstat", "hintstat_test")
HINTSTAT = os.path.join(BUILD, "bin", "hintstat")
GOLDEN = os.path.join(TOP, "tools", "hintstat", "testdata")
PRINTERS = ["table", "hist", "json", "prom", "events", "events-json"]
MAX_SLOTS = 42


def run(*args):
    return subprocess.run([need(TEST_BIN, "make -C tools/hintstat")] + list(args),
                          capture_output=True, text=True, timeout=30)


def printed(what):
    p = run("print", what)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_c_unit_checks_pass():
    p = run()
    assert p.returncode == 0, p.stdout + p.stderr
    assert "not ok" not in p.stdout
    m = re.search(r"^(\d+) passed, 0 failed$", p.stdout, re.M)
    assert m and int(m.group(1)) >= 40, p.stdout


@pytest.mark.parametrize("what", PRINTERS)
def test_printer_matches_golden(what):
    with open(os.path.join(GOLDEN, what + ".golden")) as f:
        assert printed(what) == f.read()


def test_unknown_printer_is_a_usage_error():
    p = run("print", "nope")
    assert p.returncode == 2
    assert p.stderr.strip() == "hintstat_test: unknown printer 'nope'"


def test_tables_and_histograms_fit_80_columns():
    for what in ("table", "hist"):
        for line in printed(what).splitlines():
            assert len(line) < 80, f"{what}: {len(line)} columns: {line}"


def slot_range(k):
    if k == 0:
        return 0, 0
    return 1 << (k - 1), (1 << 64) - 1 if k == MAX_SLOTS - 1 else (1 << k) - 1


def test_json_lines_have_bpftrace_histograms_and_consistent_totals():
    lines = printed("json").splitlines()
    assert len(lines) == 2
    objs = [json.loads(l) for l in lines]
    for o in objs:
        assert o["version"] == 1
        for name, buckets in o["hist"].items():
            assert name.endswith("_ns")
            # [{"min","max","count"}], contiguous log2 buckets.
            for b in buckets:
                assert set(b) == {"min", "max", "count"}
                assert b["min"] <= b["max"]
            for a, b in zip(buckets, buckets[1:]):
                assert b["min"] == a["max"] + 1
            if buckets:
                assert buckets[0]["count"] and buckets[-1]["count"]
    first, idle = objs
    assert first["time"] == "23:50:13" and "time" not in idle
    assert "events" in first and "events" not in idle
    # The interval's zone rows add up to the bytes its passes reported.
    assert sum(z["bytes"] for z in first["zones"]) == first["bytes"] == 523 << 20
    assert sum(z["failed_bytes"] for z in first["zones"]) == first["failed_bytes"]
    assert sum(b["count"] for b in first["hist"]["pass_ns"]) == first["passes"]
    # Percentiles are bucket upper bounds.
    maxes = {b["max"] for b in first["hist"]["react_ns"]}
    assert first["percentiles"]["react_ns"]["p50"] in maxes
    assert idle["zones"] == [] and idle["percentiles"]["pass_ns"]["p50"] is None
    first["total"].pop("events")
    assert idle["total"] == first["total"]


PROM_LINE = re.compile(r'^([a-z_]+)(\{[^}]*\})? (\S+)$')


def test_prometheus_exposition_rules():
    text = printed("prom")
    assert text.endswith("\n")
    types, samples = {}, []
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, typ = line.split()
            types[name] = typ
            continue
        if line.startswith("# HELP "):
            continue
        m = PROM_LINE.match(line)
        assert m, line
        samples.append((m.group(1), m.group(2) or "", m.group(3)))
    for name, typ in types.items():
        if typ == "counter":
            assert name.endswith("_total"), name
        else:
            assert typ == "histogram" and name.endswith("_seconds"), name
    hists = [n for n, t in types.items() if t == "histogram"]
    assert len(hists) == 4
    for h in hists:
        buckets = [(labels, int(v)) for n, labels, v in samples
                   if n == h + "_bucket"]
        les = [re.fullmatch(r'\{le="([^"]+)"\}', l).group(1) for l, _ in buckets]
        assert les[-1] == "+Inf"
        # Every finite log2 bucket, le = (2^k - 1) ns, exactly.
        want = [slot_range(k)[1] for k in range(MAX_SLOTS - 1)]
        assert [round(float(x) * 1e9) for x in les[:-1]] == want
        counts = [c for _, c in buckets]
        assert counts == sorted(counts), f"{h}: buckets not cumulative"
        count = [int(v) for n, _, v in samples if n == h + "_count"]
        assert count == [counts[-1]]
        assert len([1 for n, _, v in samples if n == h + "_sum"]) == 1
    pass_sum = [v for n, _, v in samples if n == "pagehint_pass_duration_seconds_sum"]
    assert pass_sum == ["0.026413213"]


def test_events_json_lines_parse():
    objs = [json.loads(l) for l in printed("events-json").splitlines()]
    assert [o["event"] for o in objs] == ["request", "fill", "react", "drain",
                                          "cycle", "pass", "?"]
    assert objs[1]["zone"] == "DMA32" and objs[4]["zone"] == "?"
    assert objs[2]["err"] == -5


# The CLI's error paths, on the host: its kernel lacks the pagehint series
# (checked independently through its BTF), and root can drop privileges
# or hide the BTF in a private mount namespace.

def hintstat(*args, pre=()):
    return subprocess.run(list(pre) + [need(HINTSTAT, "make -C tools/hintstat"),
                                       *args],
                          capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("args", [["-x"], ["0"], ["1", "0"], ["1", "2", "3"],
                                  ["-i", "abc"], ["-j", "-H"], ["--prom="],
                                  ["--duration=-5"]])
def test_bad_arguments_exit_2_with_one_line_and_a_hint(args):
    p = hintstat(*args)
    assert p.returncode == 2, (args, p.stderr)
    lines = p.stderr.splitlines()
    assert len(lines) == 2, lines
    assert "hintstat: " in lines[0] and "--help" in lines[1]
    assert p.stdout == ""


def test_help_has_examples():
    p = hintstat("--help")
    assert p.returncode == 0
    assert "EXAMPLES:" in p.stdout and "--prom" in p.stdout


def test_not_root():
    p = hintstat(pre=["setpriv", "--reuid=65534", "--regid=65534",
                      "--clear-groups"])
    assert p.returncode == 1
    assert p.stderr.splitlines() == [
        "hintstat: must be run as root (loading BPF needs CAP_BPF and CAP_PERFMON)",
        "hint: run it as root, e.g. sudo hintstat"]


def test_kernel_without_btf():
    # A private mount namespace hides the kernel's BTF from hintstat only.
    p = hintstat(pre=["unshare", "-m", "sh", "-c",
                      'mount -t tmpfs none /sys/kernel/btf && exec "$0"'])
    assert p.returncode == 1, p.stderr
    assert p.stderr.splitlines()[0].startswith("hintstat: the kernel has no BTF")
    assert "CONFIG_DEBUG_INFO_BTF" in p.stderr.splitlines()[1]


def test_kernel_without_the_series():
    dump = subprocess.run(["bpftool", "btf", "dump", "file",
                           "/sys/kernel/btf/vmlinux"],
                          capture_output=True, text=True, check=True).stdout
    has_series = "btf_trace_page_hinting_fill" in dump
    p = hintstat("-d", "0.2")
    if has_series:
        assert p.returncode == 0, p.stderr
    else:
        assert p.returncode == 1
        lines = p.stderr.splitlines()
        assert lines[0] == ("hintstat: the kernel lacks the pagehint series: no "
                            "page_hinting tracepoint request, fill, react, "
                            "drain, cycle, pass")
        assert lines[1].startswith("hint: boot a kernel with the pagehint series")
