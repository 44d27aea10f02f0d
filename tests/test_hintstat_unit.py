"""hintstat's report helpers (tools/hintstat/report.c), through the C unit
test binary, and the CLI's error paths on the host. The helpers: histogram maths and percentiles checked in C, the printers
against golden outputs and, independently of the goldens, against the
formats' own rules (JSON parses into bpftrace's histogram shape,
Prometheus buckets are cumulative and end in +Inf == _count, tables fit
80 columns).
"""
import json
import os
import random
import re
import struct
import subprocess
from collections import Counter

import pytest

from conftest import BUILD, TOP, need

TEST_BIN = os.path.join(BUILD, "hintstat", "hintstat_test")
HINTSTAT = os.path.join(BUILD, "bin", "hintstat")
GOLDEN = os.path.join(TOP, "tools", "hintstat", "testdata")
PRINTERS = ["table", "hist", "json", "prom", "events", "events-json",
            "fallback", "workqueue", "clock"]
MAX_SLOTS = 42


def run(*args):
    return subprocess.run([need(TEST_BIN, "make -C tools/hintstat")] + list(args),
                          capture_output=True, text=True, timeout=30)


def printed(what):
    p = run("print", what)
    assert p.returncode == 0, p.stderr
    return p.stdout


ASAN_TEST_BIN = os.path.join(BUILD, "hintstat", "asan", "hintstat_test")


def check_sites():
    """CHECK() call sites in test_report.c: each reports at least once."""
    with open(os.path.join(TOP, "tools", "hintstat", "test_report.c")) as f:
        src = f.read()
    return len(re.findall(r"\bCHECK\(", src)) - 1       # less the #define


@pytest.mark.parametrize("binary", [TEST_BIN, ASAN_TEST_BIN],
                         ids=["plain", "asan-ubsan"])
def test_c_unit_checks_pass(binary):
    """Every check ran and passed: the TAP plan, the numbered results and
    the summary agree, and no call site was skipped; the same binary
    built with ASan and UBSan too (any report of theirs fails it)."""
    p = subprocess.run([need(binary, "make tools")], capture_output=True,
                       text=True, timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "ERROR: AddressSanitizer" not in p.stderr
    assert "runtime error:" not in p.stderr, p.stderr
    n = int(re.search(r"^1\.\.(\d+)$", p.stdout, re.M).group(1))
    numbers = [int(x) for x in re.findall(r"^ok (\d+) - ", p.stdout, re.M)]
    assert numbers == list(range(1, n + 1)) and "not ok" not in p.stdout
    assert re.search(rf"^{n} passed, 0 failed$", p.stdout, re.M), p.stdout
    assert n >= check_sites() > 0


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
    assert all(json.loads(l)["mode"] == "tracepoints" for l in lines)
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


@pytest.mark.parametrize("what", ["json", "fallback", "workqueue", "clock"])
def test_every_json_line_parses(what):
    objs = [json.loads(l) for l in printed(what).splitlines()
            if l.startswith("{")]
    assert objs and all(o["version"] == 1 for o in objs)
    for o in objs:
        # Flat counters first: the scenarios' sed takes one up to the
        # first brace; the objects come after the totals.
        assert list(o)[-2:] == ["clock", "reported_now"], list(o)
    if what == "workqueue":
        now = objs[0]["reported_now"]
        assert now["bytes"] == sum(z["bytes"] for z in now["zones"])
        assert objs[0]["bytes"] is None and objs[0]["passes"] == 2
        assert objs[1]["reported_now"] is None
    if what == "clock":
        assert objs[0]["clock"] == {"source": "refined-jiffies",
                                    "reliable": False}


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
        elif name.endswith("_info"):
            # An info metric: a gauge of 1 whose labels are the facts.
            assert typ == "gauge", name
            assert [v for n, _, v in samples if n == name] == ["1"], name
        else:
            assert typ == "histogram" and name.endswith("_seconds"), name
    hists = [n for n, t in types.items() if t == "histogram"]
    assert len(hists) == 5
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
                                          "cycle", "pass", "reuse", "?"]
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
        "hintstat: missing capabilities: loading BPF needs CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN)",
        "hint: run it as root, e.g. sudo hintstat, or give it CAP_BPF and CAP_PERFMON"]


NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


def test_capabilities_not_root_are_what_is_checked():
    """A user with CAP_BPF and CAP_PERFMON, the capabilities the error
    names, is not refused for want of root (it may fail later, for what
    the kernel hides from it, with its own message)."""
    caps = ["--inh-caps=+bpf,+perfmon", "--ambient-caps=+bpf,+perfmon"]
    p = hintstat("-d", "0.3", "-j", pre=NOBODY + caps)
    assert "missing capabilities" not in p.stderr, p.stderr
    assert "must be run as root" not in p.stderr, p.stderr
    p = hintstat("-d", "0.3", "-j", pre=NOBODY + ["--inh-caps=+bpf",
                                                  "--ambient-caps=+bpf"])
    assert p.returncode == 1 and "missing capabilities" in p.stderr


def test_libbpf_warnings_are_shown_without_v():
    """A forced mode the kernel refuses: libbpf's warnings say why, without
    -v (they were dropped). In auto mode the expected failures of the
    stronger modes are held and named in one line instead."""
    p = hintstat("--mode", "fentry", "-d", "0.3")
    if p.returncode == 0:
        pytest.skip("this kernel loads the fentry programs: nothing refused")
    assert p.returncode == 1, p.stderr
    assert re.search(r"^libbpf: ", p.stderr, re.M), p.stderr
    assert p.stderr.splitlines()[-1].startswith("hint: ")
    auto = hintstat("-d", "0.3", "-j")
    if auto.returncode == 0:
        assert not re.search(r"^libbpf: ", auto.stderr, re.M), auto.stderr


def test_record_piped_to_head_keeps_its_end_record(tmp_path):
    """hintstat record ... | head: the reader goes away, hintstat ends as
    after Ctrl-C (exit 0), and the record has its END record."""
    rec = tmp_path / "r.hsrec"
    r = subprocess.run(["bash", "-c", f'"$0" record -o {rec} -j 0.1 | head -1; '
                        'exit ${PIPESTATUS[0]}', need(HINTSTAT, "make tools")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, (r.returncode, r.stderr)      # not 141
    assert json.loads(r.stdout)["version"] == 1
    rep = hintstat("report", "-j", str(rec))
    assert rep.returncode == 0 and "cut short" not in rep.stderr, rep.stderr
    assert json.loads(rep.stdout)["record"]["complete"] is True


def test_trim_record_keeps_a_window_of_events(record_file, tmp_path):
    """The helper that compares a recorder over another tool's window
    (test_hintstat_stock.py): all of it, or nothing of it."""
    from conftest import trim_record
    _, _, _, events, _ = parse_record(record_file)
    full = json.loads(hintstat("report", "-j", record_file).stdout)
    every = tmp_path / "every.hsrec"
    assert trim_record(record_file, every, 0, 1 << 64) == len(events)
    assert json.loads(hintstat("report", "-j", str(every)).stdout)["total"] \
        == full["total"]
    none = tmp_path / "none.hsrec"
    last = max(e["ts"] for e in events)
    assert trim_record(record_file, none, last + 1, 1 << 64) == 0
    rep = json.loads(hintstat("report", "-j", str(none)).stdout)
    assert rep["total"]["passes"] == 0 and rep["record"]["complete"]
    assert full["total"]["passes"] > 0


def test_report_json_escapes_a_hostile_release(record_file, tmp_path):
    """A record file may come from anywhere: a release string holding a
    newline and a quote stays one valid JSON line."""
    data = bytearray(open(record_file, "rb").read())
    evil = b'6.12\n"evil\\'        # a newline, a quote, a backslash
    data[40:120] = evil.ljust(80, b"\0")
    bad = tmp_path / "evil.hsrec"
    bad.write_bytes(bytes(data))
    p = hintstat("report", "-j", str(bad))
    assert p.returncode == 0, p.stderr
    lines = p.stdout.splitlines()
    assert len(lines) == 1, p.stdout
    assert json.loads(lines[0])["record"]["release"] == evil.decode()


def test_kernel_without_btf():
    # A private mount namespace hides the kernel's BTF from hintstat only.
    p = hintstat(pre=["unshare", "-m", "sh", "-c",
                      'mount -t tmpfs none /sys/kernel/btf && exec "$0"'])
    assert p.returncode == 1, p.stderr
    assert p.stderr.splitlines()[0].startswith("hintstat: the kernel has no BTF")
    assert "CONFIG_DEBUG_INFO_BTF" in p.stderr.splitlines()[1]


def host_btf():
    return subprocess.run(["bpftool", "btf", "dump", "file",
                           "/sys/kernel/btf/vmlinux"],
                          capture_output=True, text=True, check=True).stdout


def test_kernel_without_the_series():
    """Auto mode on the host's kernel, whatever it lacks: the series'
    events, else fentry, else kprobes, else the workqueue tracepoints;
    a mode that is not the fallback says on one line why each stronger
    one was not used. (test_hintstat_fieldhost.py checks its numbers.)"""
    dump = host_btf()
    p = hintstat("-j", "-d", "0.3")
    if "btf_trace_page_hinting_fill" in dump:
        assert p.returncode == 0, p.stderr
        assert json.loads(p.stdout.splitlines()[-1])["mode"] == "tracepoints"
        return
    lines = p.stderr.splitlines()
    if "FUNC 'page_reporting_process'" not in dump:
        assert p.returncode == 1
        assert lines[0].startswith("hintstat: neither the page_hinting "
                                   "tracepoints nor page_reporting_process()")
        return
    # What auto mode must pick is what each mode forced does here: the
    # first that runs, in the order fentry, kprobes, workqueue.
    forced = {m: hintstat("--mode", m, "-j", "-d", "0.3").returncode
              for m in ("fentry", "kprobe", "workqueue")}
    want = next((m for m, rc in forced.items() if rc == 0), None)
    if want is None:
        assert p.returncode == 1 and "nothing to trace with" in lines[0], lines
        return
    assert p.returncode == 0, p.stderr
    mode = json.loads(p.stdout.splitlines()[-1])["mode"]
    assert mode == want, (mode, forced)
    if mode == "workqueue":
        assert re.match(r"hintstat: no page_hinting events; fentry: .+; "
                        r"kprobes: .+$", lines[0]), lines
        assert lines[1] == "hintstat: mode: tracepoint-only (workqueue, kpageflags)"


def test_nothing_to_trace_with_names_every_mechanism(tmp_path):
    """With /proc/kallsyms emptied in a private mount namespace the
    workqueue mode cannot find the reporting work. Where fentry or
    kprobes work, auto mode does not need it; where neither does (this
    machine kind), the one error line says what each mechanism answered."""
    if "btf_trace_page_hinting_fill" in host_btf():
        pytest.skip("the host kernel has the series")
    empty = tmp_path / "kallsyms"
    empty.write_text("")
    p = hintstat("-j", "-d", "0.2", pre=[
        "unshare", "-m", "sh", "-c",
        f'mount --bind {empty} /proc/kallsyms && exec "$0" "$@"'])
    if p.returncode == 0:
        assert json.loads(p.stdout.splitlines()[-1])["mode"] in ("fentry", "kprobe")
        return
    lines = p.stderr.splitlines()
    assert p.returncode == 1 and len(lines) == 2, lines
    assert re.fullmatch(r"hintstat: nothing to trace with: no page_hinting "
                        r"events; fentry: .+; kprobes: .+; workqueue: "
                        r"kallsyms \(no page_reporting_process\): .+",
                        lines[0]), lines
    assert lines[1].startswith("hint: ")


def test_forced_tracepoints_mode_without_the_series():
    if "btf_trace_page_hinting_fill" in host_btf():
        pytest.skip("the host kernel has the series")
    p = hintstat("--mode", "tracepoints", "-d", "0.2")
    assert p.returncode == 1
    lines = p.stderr.splitlines()
    assert lines[0] == ("hintstat: the kernel lacks the pagehint series: no "
                        "page_hinting tracepoint request, fill, react, "
                        "drain, cycle, pass")
    assert lines[1].startswith("hint: boot a kernel with the pagehint series")


def test_kernel_with_neither_tracepoints_nor_reporting(tmp_path):
    # A kernel BTF with neither: one type, "int".
    btf = tmp_path / "vmlinux"
    types = struct.pack("<IIII", 1, 1 << 24, 4, 32)    # INT "int", 32 bits
    strings = b"\0int\0"
    btf.write_bytes(struct.pack("<HBBIIIII", 0xeb9f, 1, 0, 24, 0, len(types),
                                len(types), len(strings)) + types + strings)
    p = hintstat(pre=["unshare", "-m", "sh", "-c",
                      f'mount -t tmpfs none /sys/kernel/btf && '
                      f'cp {btf} /sys/kernel/btf/vmlinux && exec "$0"'])
    assert p.returncode == 1, p.stderr
    assert p.stderr.splitlines() == [
        "hintstat: neither the page_hinting tracepoints nor "
        "page_reporting_process() are in this kernel",
        "hint: boot a kernel with the pagehint series, or one with "
        "CONFIG_PAGE_REPORTING=y"]


@pytest.mark.parametrize("args", [["record"], ["record", "-o", ""],
                                  ["report"], ["report", "a", "b"],
                                  ["report", "f", "-e"], ["report", "f", "-d", "1"],
                                  ["report", "f", "--prom", ":9100"],
                                  ["-o", "x"], ["-Z"], ["--prom", ":0"],
                                  ["--prom", ":70000"], ["--mode", "bogus"],
                                  ["--mode", "fentry", "--exact-orders"],
                                  ["report", "f", "--exact-orders"]])
def test_subcommand_usage_errors_exit_2(args):
    p = hintstat(*args)
    assert p.returncode == 2, (args, p.stderr)
    lines = p.stderr.splitlines()
    assert len(lines) == 2 and lines[0].startswith("hintstat: "), lines
    assert "--help" in lines[1]


def test_record_needs_root(tmp_path):
    p = hintstat("record", "-o", str(tmp_path / "r"),
                 pre=["setpriv", "--reuid=65534", "--regid=65534",
                      "--clear-groups"])
    assert p.returncode == 1
    assert p.stderr.splitlines()[0].startswith("hintstat: missing capabilities")


# Record files: hintstat_test writes one (a fixed event sequence through
# the writer hintstat record uses); it is parsed here independently of
# the C reader and aggregated in Python, and hintstat report must print
# the same numbers.

EVENT = struct.Struct("<QQQQIIIIiHBBB3x4x")  # 64: C aligns it to 8
HEADER = 512
TYPES = ["request", "fill", "react", "drain", "cycle", "pass", "reuse"]
REUSE_WHY = ["alloc", "merge", "isolate", "offline"]


@pytest.fixture(scope="module")
def record_file(tmp_path_factory):
    path = str(tmp_path_factory.mktemp("rec") / "seq.hsrec")
    p = run("record", path)
    assert p.returncode == 0, p.stderr
    return path


def parse_record(path):
    with open(path, "rb") as f:
        data = f.read()
    assert data[:8] == b"HSTATREC"
    version, hsize, rsize, mode = struct.unpack_from("<4I", data, 8)
    assert (version, hsize, rsize) == (1, HEADER, EVENT.size)
    release = data[40:120].split(b"\0")[0].decode()
    zones = [data[120 + 16 * i:136 + 16 * i].split(b"\0")[0].decode()
             for i in range(8)]
    events, marks = [], []
    for off in range(HEADER, len(data), EVENT.size):
        ts, nbytes, ns, c64, typ, a, b, c, err, zone, order, mt, flag = \
            EVENT.unpack_from(data, off)
        e = dict(ts=ts, bytes=nbytes, ns=ns, c64=c64, type=typ, a=a, b=b,
                 c=c, err=err, zone=zone, order=order, flag=flag)
        (marks if typ >= 0x100 else events).append(e)
    return mode, release, zones, events, marks


def aggregate(events, zones):
    """hs_account() again, in Python: what report must print."""
    t = Counter()
    zo = {}
    cur = None
    for e in events:
        name = TYPES[e["type"]]
        t[name + "s"] += 1
        if name == "request":
            t["requests_queued"] += e["flag"]
        elif name == "fill":
            cur = (e["zone"], e["order"]) if e["zone"] < 8 and e["order"] < 16 else None
            t["out_of_range"] += cur is None
        elif name == "react":
            t["react_errors"] += e["err"] != 0
            if cur is None:
                t["unattributed"] += 1
            else:
                z = zo.setdefault(cur, Counter())
                z["failed_bytes" if e["err"] else "bytes"] += e["bytes"]
                z["entries"] += e["a"]
                z["batches"] += 1
            cur = None
        elif name == "drain":
            t["drain_reported"] += e["b"]
            t["drain_merged"] += e["c"]
        elif name == "cycle":
            t["cycles_budget_exhausted"] += e["flag"]
        elif name == "reuse":
            t["reuse_allocated_bytes"] += e["c64"]
            if e["a"] < len(REUSE_WHY):
                t[f"reuse_{REUSE_WHY[e['a']]}_bytes"] += e["bytes"]
            else:
                t["out_of_range"] += 1
        else:
            t["batches"] += e["a"]
            t["bytes"] += e["bytes"]
            t["failed_bytes"] += e["c64"]
            t["passes_requeued"] += e["flag"]
            t["passes_err"] += e["err"] != 0
    t["passes"] = t.pop("passs", 0)
    rows = [{"zone": zones[z], "zone_idx": z, "order": o, "bytes": c["bytes"],
             "failed_bytes": c["failed_bytes"], "entries": c["entries"],
             "batches": c["batches"]} for (z, o), c in sorted(zo.items())]
    return t, rows


def test_report_prints_what_the_events_add_up_to(record_file):
    mode, release, zones, events, marks = parse_record(record_file)
    assert mode == 0 and release == "6.12.0-test" and zones[:2] == ["DMA32", "Normal"]
    assert [m["type"] for m in marks] == [0x100, 0x101]
    p = hintstat("report", record_file, "-j")
    assert p.returncode == 0, p.stderr
    o = json.loads(p.stdout)
    assert o["mode"] == "tracepoints"
    assert o["record"] == {"version": 1, "release": "6.12.0-test",
                           "records": len(events), "complete": True}
    want, rows = aggregate(events, zones)
    for k, v in o["total"].items():
        if isinstance(v, int):
            assert v == want.get(k, 0) or k == "dropped_events", k
    assert o["total"]["dropped_events"] == marks[-1]["bytes"] == 7
    assert o["total"]["zones"] == rows
    assert o["total"]["events"] == {n: sum(TYPES[e["type"]] == n for e in events)
                                    for n in TYPES}
    assert o == {**o, **{k: o["total"][k] for k in want}}  # interval == total
    assert o["interval_s"] == pytest.approx(0.101)
    fills = [e["ns"] for e in events if e["type"] == 1]
    assert o["hist_sum"]["fill_lock_ns"] == sum(fills)


def test_report_table_histograms_and_prom(record_file, tmp_path):
    p = hintstat("report", record_file, "-H", "-Z")
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert out.splitlines()[0] == ("record %s: kernel 6.12.0-test, mode "
                                   "tracepoints, 22 events, 7 dropped" % record_file)
    assert re.search(r"^TOTAL\s+523\.000\s", out, re.M)
    for z in ("DMA32", "Normal"):
        assert f"fill lock hold, zone {z} (ns): count" in out
    assert "pass duration (ns): count 2" in out
    prom = tmp_path / "m.prom"
    p = hintstat("report", record_file, "--prom", str(prom))
    assert p.returncode == 0 and p.stdout == ""
    assert "pagehint_passes_total 2\n" in prom.read_text()
    assert os.listdir(tmp_path) == ["m.prom"]     # no temporary left


def test_report_of_a_record_cut_short(record_file, tmp_path):
    cut = tmp_path / "cut"
    with open(record_file, "rb") as f:
        cut.write_bytes(f.read()[:HEADER + 5 * EVENT.size])
    p = hintstat("report", str(cut), "-j")
    assert p.returncode == 0
    assert p.stderr.startswith(f"hintstat: warning: {cut} has no end record")
    assert json.loads(p.stdout)["record"]["complete"] is False


@pytest.mark.parametrize("damage,message", [
    (lambda d: b"", "truncated header (0 of 512 bytes)"),
    (lambda d: b"not a record at all", "is not a hintstat record file (bad magic)"),
    (lambda d: d[:HEADER + 7], "truncated record at byte 512 (7 of 64 bytes)"),
    (lambda d: d[:8] + b"\x02" + d[9:], "record format version 2"),
    (lambda d: d[:HEADER + 16 + 16] + b"\x09" + d[HEADER + 33:],
     "corrupt record at byte 512: unknown record type"),
    (lambda d: d + d[HEADER:HEADER + EVENT.size], "data after the end record"),
])
def test_corrupt_records_are_refused_in_one_line(record_file, tmp_path,
                                                 damage, message):
    bad = tmp_path / "bad"
    with open(record_file, "rb") as f:
        bad.write_bytes(damage(f.read()))
    p = hintstat("report", str(bad))
    assert p.returncode == 1 and p.stdout == ""
    lines = p.stderr.splitlines()
    assert len(lines) == 2 and message in lines[0], lines
    assert lines[0].startswith("hintstat: ") and lines[1].startswith("hint: ")


def test_unreadable_record_file(tmp_path):
    p = hintstat("report", str(tmp_path / "none"))
    assert p.returncode == 1
    assert p.stderr.splitlines()[0] == (f"hintstat: cannot open {tmp_path}/none: "
                                        "No such file or directory")


def test_fuzzed_records_never_crash_the_reader(record_file, tmp_path):
    with open(record_file, "rb") as f:
        good = f.read()
    rng = random.Random(20250523)
    path = tmp_path / "fuzz"
    codes = Counter()
    for i in range(400):
        data = bytearray(good)
        if i % 3 == 0:
            data = data[:rng.randrange(len(data) + 1)]
        for _ in range(rng.randrange(1, 8)):
            if data:
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
        path.write_bytes(bytes(data))
        args = ["report", str(path)] + rng.choice([[], ["-j"], ["-H", "-Z"]])
        p = hintstat(*args)
        assert p.returncode in (0, 1), (i, p.returncode, p.stderr)
        if p.returncode == 1:
            lines = p.stderr.splitlines()
            assert len(lines) == 2 and lines[1].startswith("hint: "), lines
        codes[p.returncode] += 1
    assert codes[0] and codes[1], codes


HOST_REFAULT_REC = os.path.join(TOP, "tools", "hintstat", "fuzz", "corpus",
                                "record", "host-refault.hsrec")
HH_EV_REFAULT = 0x20a


def test_host_record_carries_the_refault_scans(tmp_path):
    """A host record (the fuzz seed: 64 KiB discarded, two pages touched
    again) replays its pagemap scans' bytes; a refault record of part of
    a page, or with other fields set, is refused."""
    p = hintstat("report", "-j", HOST_REFAULT_REC)
    assert p.returncode == 0, p.stderr
    o = json.loads(p.stdout)
    assert o["total"]["refault_bytes"] == 8192
    assert o["refault_scan_ns"] is None
    with open(HOST_REFAULT_REC, "rb") as f:
        data = bytearray(f.read())
    at = next(off for off in range(HEADER, len(data), EVENT.size)
              if EVENT.unpack_from(data, off)[4] == HH_EV_REFAULT)
    for field_off, value, why in (
            (8, 4097, "a refault record with more than whole pages"),
            (48, 1, "a scan record with fields other than its figure")):
        bad = bytearray(data)
        struct.pack_into("<Q" if field_off == 8 else "<i", bad,
                         at + field_off, value)
        path = tmp_path / "bad.hsrec"
        path.write_bytes(bytes(bad))
        p = hintstat("report", str(path))
        assert p.returncode == 1, p.stdout
        assert why in p.stderr


HOST_THP_REC = os.path.join(TOP, "tools", "hintstat", "fuzz", "corpus",
                            "record", "host-thp.hsrec")
HH_EV_THP_SPLIT = 0x20b


def test_host_record_carries_the_huge_page_splits(tmp_path):
    """A host record (the fuzz seed: 4 KiB discarded in each of two host
    huge pages, one whole huge page discarded) replays 2 splits; a split
    record with another field set, or beyond any RAM, is refused."""
    p = hintstat("report", "-j", HOST_THP_REC)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["total"]["thp_splits"] == 2
    with open(HOST_THP_REC, "rb") as f:
        data = bytearray(f.read())
    at = [off for off in range(HEADER, len(data), EVENT.size)
          if EVENT.unpack_from(data, off)[4] == HH_EV_THP_SPLIT]
    assert at, "no split record in the seed"
    for field_off, fmt, value, why in (
            (48, "<i", 1, "a scan record with fields other than its figure"),
            (8, "<Q", 1 << 50, "a split record beyond any guest RAM")):
        bad = bytearray(data)
        struct.pack_into(fmt, bad, at[0] + field_off, value)
        path = tmp_path / "bad.hsrec"
        path.write_bytes(bytes(bad))
        p = hintstat("report", str(path))
        assert p.returncode == 1, p.stdout
        assert why in p.stderr
