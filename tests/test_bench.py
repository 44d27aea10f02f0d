"""The bench harness on the host: statistics, regression flags on
synthetic histories, the CI check against a baseline, run parsing,
memhog's fragmented free, the density budget's cgroup."""
import json
import os
import random
import re
import subprocess
import sys
import time

import pytest

from conftest import MEMHOG, TOP, need

sys.path.insert(0, os.path.join(TOP, "bench"))
import benchlib  # noqa: E402
import bench  # noqa: E402
import compare  # noqa: E402
import goals  # noqa: E402
import pagefault  # noqa: E402

PY = "/usr/bin/python3"


def test_welch_matches_reference_values():
    # R: t.test(c(1,2,3,4), c(3,4,5,6)) -> t = 2.1909, df = 6, p = 0.07099
    t, dof, p = benchlib.welch([1, 2, 3, 4], [3, 4, 5, 6])
    assert abs(t - 2.1909) < 1e-4 and abs(dof - 6) < 1e-9 and abs(p - 0.07099) < 1e-4
    # Two-sided 5 % and 1 % critical values of Student's t table.
    for t, dof, p in ((12.706, 1, 0.05), (2.776, 4, 0.05), (2.447, 6, 0.05),
                      (3.707, 6, 0.01), (2.228, 10, 0.05)):
        assert abs(benchlib.betainc(dof / 2, 0.5, dof / (dof + t * t)) - p) < 2e-4


def test_known_regressions_are_flagged_direction_aware():
    base = [10.0, 10.4, 9.8, 10.2, 10.1]
    slower = [13.0, 12.8, 13.3, 13.1, 12.9]
    # Latency up: regression; latency down: improvement.
    assert benchlib.judge(base, slower, "oneshot.t90_s")["status"] == "regression"
    assert benchlib.judge(slower, base, "oneshot.t90_s")["status"] == "improvement"
    # Throughput down: regression; up: improvement.
    assert benchlib.judge(slower, base, "oneshot.hint_mib_s")["status"] == "regression"
    assert benchlib.judge(base, slower, "oneshot.hint_mib_s")["status"] == "improvement"


def test_guards_against_weak_evidence():
    # Fewer than 3 samples a side: never flagged, however large.
    j = benchlib.judge([10, 10.1], [20, 20.2], "oneshot.t90_s")
    assert j["status"] == "few samples"
    # Overlapping ranges (one outlier) with a large median change.
    j = benchlib.judge([10, 10.1, 10.2, 14], [13, 13.1, 13.2, 13.3], "oneshot.t90_s")
    assert j["status"] == "same"
    # Significant and separated, but below the minimum effect (15 %).
    j = benchlib.judge([10, 10.01, 10.02], [10.5, 10.51, 10.52], "oneshot.t90_s")
    assert j["p"] < 0.001 and j["status"] == "same"


def test_noise_is_not_flagged():
    rnd = random.Random(42)
    flagged = 0
    for _ in range(500):
        a = [rnd.gauss(10, 0.8) for _ in range(5)]
        b = [rnd.gauss(10, 0.8) for _ in range(5)]
        flagged += benchlib.judge(a, b, "oneshot.t90_s")["status"] != "same"
    assert flagged == 0


def history_line(commit, t90_mainline, hint_mib_s, t90_stock):
    return {"commit": commit, "time": f"2026-01-01T00:00:0{len(commit) % 9}Z",
            "profile": "full", "accel": "tcg",
            "samples": {"oneshot.t90_s": {"mainline": t90_mainline, "stock": t90_stock},
                        "oneshot.hint_mib_s": {"mainline": hint_mib_s}}}


def test_bench_compare_table_flags_only_the_regression(tmp_path):
    hist = tmp_path / "history.jsonl"
    rnd = random.Random(1)
    noise = lambda m: [rnd.gauss(m, m * 0.03) for _ in range(5)]  # noqa: E731
    lines = [history_line("aaaa111", noise(9.0), noise(60), noise(9.0)),
             history_line("bbbb222", noise(12.0), noise(60), noise(9.0))]
    hist.write_text("".join(json.dumps(x) + "\n" for x in lines))
    p = subprocess.run([PY, os.path.join(TOP, "bench", "compare.py"), "aaaa", "bbbb",
                        "--history", str(hist)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    rows = [l for l in p.stdout.splitlines() if "better]" in l]
    assert len(rows) == 3          # t90 mainline and stock, hint_mib_s
    flagged = [l for l in p.stdout.splitlines() if "REGRESSION" in l]
    assert len(flagged) == 1 and "oneshot.t90_s (mainline)" in flagged[0], p.stdout
    assert "%change" in p.stdout and "1 regression(s)" in p.stdout
    # An unknown commit is a clear error.
    p = subprocess.run([PY, os.path.join(TOP, "bench", "compare.py"), "zzz", "bbbb",
                        "--history", str(hist)], capture_output=True, text=True)
    assert p.returncode == 1 and "no results for 'zzz'" in p.stderr


def results(t90, t90_stock, ratio=None, **kw):
    s = {"oneshot.t90_s": {"mainline": t90, "stock": t90_stock}}
    if ratio:
        s["oneshot.t90_vs_stock"] = {"mainline": ratio}
    doc = {"commit": "c0ffee0", "profile": "ci", "accel": "tcg",
           "cpu": "AMD EPYC", "samples": s, "samples_per_config": len(t90),
           "configs": {"stock": {}, "mainline": {}}}
    doc.update(kw)
    return doc


def test_ci_check_against_baseline(tmp_path):
    base = results([9.0, 9.3, 8.9, 9.1, 9.2], [9.0, 9.4, 9.1, 8.8, 9.0],
                   [1.0, 0.99, 0.98, 1.03, 1.02])
    bl = compare.make_baseline(base, ["oneshot.t90_s", "oneshot.t90_vs_stock"])
    # Tolerances come from the measured spread, at least the metric's floor.
    tol = bl["tracked"]["oneshot.t90_s"]["mainline"]["min_effect"]
    assert tol >= benchlib.metric_info("oneshot.t90_s")["min_effect"]
    assert tol >= 2 * (9.3 - 8.9) / 9.1 - 1e-9
    blf = tmp_path / "baseline.json"
    blf.write_text(json.dumps(bl))
    cmd = [PY, os.path.join(TOP, "bench", "compare.py"), "--baseline", str(blf), "--check"]
    same = tmp_path / "same.json"
    same.write_text(json.dumps(results([9.2, 8.8, 9.4], [9.1, 9.3, 8.9], [1.01, 0.95, 1.05])))
    p = subprocess.run(cmd + [str(same)], capture_output=True, text=True)
    assert p.returncode == 0, p.stdout
    assert "no regression" in p.stdout
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(results([14.1, 14.3, 13.9], [9.1, 9.3, 8.9], [1.5, 1.55, 1.6])))
    p = subprocess.run(cmd + [str(bad)], capture_output=True, text=True)
    assert p.returncode == 1, p.stdout
    assert "oneshot.t90_s (mainline)" in p.stdout.splitlines()[-1]
    assert "oneshot.t90_s (stock)" not in p.stdout.splitlines()[-1]


def good():
    """A fresh ci results document that passes the gate."""
    return results([9.2, 8.8, 9.4], [9.1, 9.3, 8.9], [1.01, 0.95, 1.05])


def gate_baseline(tmp_path):
    base = results([9.0, 9.3, 8.9, 9.1, 9.2], [9.0, 9.4, 9.1, 8.8, 9.0],
                   [1.0, 0.99, 0.98, 1.03, 1.02])
    blf = tmp_path / "baseline.json"
    blf.write_text(json.dumps(compare.make_baseline(
        base, ["oneshot.t90_s", "oneshot.t90_vs_stock"])))
    return blf


def check_doc(tmp_path, doc, blf=None):
    f = tmp_path / "results.json"
    f.write_text(json.dumps(doc))
    return subprocess.run([PY, os.path.join(TOP, "bench", "compare.py"),
                           "--baseline", str(blf or gate_baseline(tmp_path)),
                           "--check", str(f)],
                          capture_output=True, text=True, timeout=60)


def without(doc, key, cfg):
    del doc["samples"][key][cfg]
    return doc


def skipped_mainline(doc):
    del doc["configs"]["mainline"]
    del doc["samples"]["oneshot.t90_s"]["mainline"]
    del doc["samples"]["oneshot.t90_vs_stock"]
    return doc


@pytest.mark.parametrize("broken, why", [
    (lambda d: dict(d, samples={}), "oneshot.t90_s (mainline): no samples"),
    (lambda d: (d["samples"]["oneshot.t90_s"].update(
        mainline=[None, None, None], stock=[None, None, None]) or d),
     "oneshot.t90_s (mainline): 3 of 3 samples missing (None)"),
    (lambda d: (d["samples"]["oneshot.t90_s"]["stock"].__setitem__(1, None)
                or d), "oneshot.t90_s (stock): 1 of 3 samples missing (None)"),
    (skipped_mainline, "configuration mainline of profile ci was not run"),
    (lambda d: without(d, "oneshot.t90_vs_stock", "mainline"),
     "oneshot.t90_vs_stock (mainline): no samples"),
    (lambda d: dict(d, samples_per_config=2), "2 samples per configuration, "
     "profile ci asks 3"),
    (lambda d: (d["samples"]["oneshot.t90_s"]["stock"].pop() and d),
     "oneshot.t90_s (stock): 2 samples, 3 wanted"),
    (lambda d: dict(d, profile="full"), "baseline profile 'ci' is not the "
     "run's 'full'"),
    (lambda d: dict(d, accel="kvm"), "baseline accel 'tcg' is not the run's "
     "'kvm'"),
    (lambda d: dict(d, cpu="Intel Xeon"), "baseline cpu 'AMD EPYC' is not "
     "the run's 'Intel Xeon'"),
], ids=["no-samples", "all-none", "one-none", "skipped-config",
        "missing-series", "fewer-samples", "short-series", "profile", "accel",
        "cpu"])
def test_ci_gate_fails_on_missing_data_with_a_reason(tmp_path, broken, why):
    """Each of these gave 0 regressions before: the gate fails, saying why."""
    ok = check_doc(tmp_path, good())
    assert ok.returncode == 0, ok.stdout
    p = check_doc(tmp_path, broken(good()))
    assert p.returncode == 1, p.stdout
    assert any(l.startswith("bench: cannot judge ") and why in l
               for l in p.stdout.splitlines()), p.stdout


def test_make_bench_ci_fails_on_a_missing_sample(tmp_path):
    """The Makefile's gate command, as bench-ci runs it, on a results file
    with one sample missing: non-zero."""
    with open(os.path.join(TOP, "Makefile")) as f:
        mk = f.read()
    assert "bench/compare.py --check $(BUILD)/bench/ci-results.json" in mk
    assert re.search(r"^bench-ci: kernel guest stock$", mk, re.M)
    doc = good()
    doc["samples"]["oneshot.t90_s"]["mainline"][0] = None
    (tmp_path / "bench").mkdir()
    (tmp_path / "bench" / "ci-results.json").write_text(json.dumps(doc))
    p = subprocess.run([PY, os.path.join(TOP, "bench", "compare.py"),
                        "--baseline", str(gate_baseline(tmp_path)), "--check",
                        str(tmp_path / "bench" / "ci-results.json")],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode != 0 and "missing (None)" in p.stdout


def test_the_committed_baselines_are_usable():
    bls = compare.load_baselines(benchlib.BASELINE)
    kinds = [tuple(bl.get(k) for k in compare.KIND) for bl in bls]
    assert len(set(kinds)) == len(kinds), kinds
    for bl in bls:
        assert bl["tracked"], "a baseline in bench/baseline.json tracks nothing"
        # Like for like with what bench-ci runs: the ci profile, one CPU kind.
        assert bl["profile"] == "ci" and bl["accel"] in ("tcg", "kvm") and bl["cpu"]
        for c in benchlib.PROFILES["ci"]["configs"]:
            assert all(c in per for k, per in bl["tracked"].items()
                       if k != "oneshot.t90_vs_stock"), c
        for key, per in bl["tracked"].items():
            assert key in benchlib.METRICS
            for cfg, v in per.items():
                assert len(v["samples"]) >= 3 and v["min_effect"] > 0, (key, cfg)


def test_each_run_is_judged_against_its_own_kind(tmp_path):
    """Two CPU kinds in one file, made by --make-baseline: a run of each
    passes against its own; a run of a third kind cannot be judged; the
    same kind made again replaces its entry, not the other."""
    blf = tmp_path / "baseline.json"
    make = [PY, os.path.join(TOP, "bench", "compare.py"), "--baseline", str(blf),
            "--metrics", "oneshot.t90_s,oneshot.t90_vs_stock", "--make-baseline"]
    for cpu, t90 in (("AMD EPYC", 9.0), ("Intel Xeon", 20.0)):
        f = tmp_path / f"{cpu}.json"
        f.write_text(json.dumps(results([t90, t90 * 1.01, t90 * 0.99], [9.1, 9.3, 8.9],
                                        [1.01, 0.95, 1.05], cpu=cpu)))
        p = subprocess.run(make + [str(f)], capture_output=True, text=True, timeout=60)
        assert p.returncode == 0, p.stderr
    assert len(compare.load_baselines(blf)) == 2
    for cpu, t90, rc in (("AMD EPYC", 9.0, 0), ("Intel Xeon", 20.0, 0),
                         ("AMD EPYC", 20.0, 1), ("Intel Xeon", 30.0, 1)):
        doc = results([t90, t90 * 1.02, t90 * 0.98], [9.1, 9.3, 8.9],
                      [1.01, 0.95, 1.05], cpu=cpu)
        p = check_doc(tmp_path, doc, blf)
        assert p.returncode == rc, (cpu, t90, p.stdout)
    p = check_doc(tmp_path, dict(good(), cpu="Arm Neoverse"), blf)
    assert p.returncode == 1 and "is not the run's 'Arm Neoverse'" in p.stdout
    p = subprocess.run(make + [str(tmp_path / "Intel Xeon.json")],
                       capture_output=True, text=True, timeout=60)
    assert [b["cpu"] for b in compare.load_baselines(blf)] == ["AMD EPYC", "Intel Xeon"]


def write_run(tmp_path, rss, markers, hs_lines, memhog_lines):
    out = tmp_path / "out"
    out.mkdir()
    (out / "hintstat.json").write_text("".join(json.dumps(x) + "\n" for x in hs_lines))
    (out / "memhog-oneshot.json").write_text(
        "".join(json.dumps(x) + "\n" for x in memhog_lines))
    return {"outdir": str(out), "markers": markers, "rss": rss, "env": {}}


def goals_doc():
    """A results file whose goals are known: reserve meets t90 and churn
    reuse, misses churn footprint by 1 %, and has no compile sample;
    hintstat costs 3 % of instructions, the rest nothing."""
    s = {"oneshot.t90_s": {"d100": [0.30, 0.31, 0.29], "reserve": [0.30, 0.30, None]},
         "churn.reuse_mib_s": {"mainline": [3.6, 4.0, 3.5], "reserve": [2.8, 2.7, 4.0]},
         "churn.footprint_mib": {"d100": [200, 201, 199], "reserve": [202, 202, 190]},
         "compile.footprint_mib": {"mainline": [400, 410, 420]},
         "pagefault.icount_vs_base": {"off": [1.0, 1.0, 1.0], "on": [0.999] * 3,
                                      "hintstat": [0.97, 0.971, 0.969]}}
    return {"samples": s, "configs": {"mainline": {}, "d100": {}, "reserve": {}}}


def test_goals_are_judged_on_one_runs_medians():
    t = goals.goals_table(goals_doc()).splitlines()
    row = {r.split(" | ")[0].lstrip("| "): r for r in t if r.startswith("| ")}
    assert "**met**: 0.3 vs 0.3 (+0.0 %)" in row["one-shot t90 at most `d100`'s"]
    assert "**met**: 2.8 vs 3.6 (-22.2 %)" in row["churn reuse at most mainline's"]
    assert "not met: 202.0 vs 200.0 (+1.0 %)" in row["churn footprint at most `d100`'s"]
    assert "not measured" in row["compile footprint 17 % below mainline's"]
    assert "**met**: x1.0000" in row["the series, no device: cost <= 0.5 %"]
    assert "not met: x0.9700" in row["+ hintstat attached: cost <= 2 %"]
    assert "adaptive" not in t[0]            # not run: no column


def test_goals_tables_from_a_results_file(tmp_path):
    doc = goals_doc()
    doc.update(commit="abc", profile="full", samples_per_config=3,
               bounds={"oneshot.t90_s": {"host madvise": [0.002, 0.001, 0.003]}})
    path = tmp_path / "r.json"
    path.write_text(json.dumps(doc))
    p = subprocess.run([sys.executable, os.path.join(TOP, "bench", "goals.py"),
                        str(path)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "| `oneshot.t90_s` | 0.3 [0.29..0.31] | 0.3 [0.3..0.3] |" in p.stdout
    assert "| `compile.footprint_mib` |  |  | 410.0 [400.0..420.0] |" in p.stdout
    assert "| metric | off | on | hintstat |" in p.stdout   # a table of its own
    assert "| `oneshot.t90_s` | host madvise | 0.002 [0.001..0.003] |" in p.stdout
    path.write_text("[1, 2]")
    p = subprocess.run([sys.executable, os.path.join(TOP, "bench", "goals.py"),
                        str(path)], capture_output=True, text=True, timeout=60)
    assert p.returncode == 1 and "not a bench results file" in p.stderr
    assert p.stderr.splitlines()[-1].startswith("hint: ")


def test_readme_results_are_the_committed_full_run():
    """README's Results (a consistency check, not a measurement): the
    goals table is what bench/goals.py prints from the committed results
    file today, and that output is the committed .md. A change to goals.py
    or a hand edit of either shows here."""
    base = os.path.join(TOP, "bench", "results-full-d456432")
    p = subprocess.run([sys.executable, os.path.join(TOP, "bench", "goals.py"),
                        base + ".json"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    with open(base + ".md") as f:
        assert p.stdout == f.read()
    table = p.stdout[p.stdout.index("| goal | adaptive | reserve |"):]
    table = table[:table.index("\n\n")]
    assert table.count("\n") == 5               # header, rule, four goals
    with open(os.path.join(TOP, "README.md")) as f:
        assert table in f.read()


def test_parse_oneshot_run(tmp_path):
    # Host: RSS 800 MiB until the free at t=10, then 60 MiB/s down to 200.
    rss = [(t / 10, 800 * 1024 if t <= 100 else
            max(200 * 1024, 800 * 1024 - 60 * 1024 * (t / 10 - 10))) for t in range(400)]
    markers = {"freed.1": 10.0, "quiet-oneshot": 39.0}
    MiB = 1 << 20
    hist = {"pass_ns": [], "react_ns": [], "fill_lock_ns": [{"min": 1024, "max": 2047, "count": 99}],
            "drain_lock_ns": [{"min": 4096, "max": 8191, "count": 1}]}
    hs = [{"ts": 100 + i, "interval_s": 1, "bytes": b * MiB, "hist": hist,
           "bpf_stats": {"hs_fill": {"run_cnt": 10 * (i + 1), "run_time_ns": 5000 * (i + 1)}}}
          for i, b in enumerate([0, 0, 300, 200, 100, 0, 0])]
    mh = [{"phase": "freed", "t_ns": int(101.5e9)}]
    res, h, mode = bench.parse_hint_run(write_run(tmp_path, rss, markers, hs, mh))
    assert abs(res["oneshot.t50_s"] - 5.0) <= 0.11      # 300 MiB at 60 MiB/s
    assert abs(res["oneshot.t90_s"] - 9.0) <= 0.11      # 540 MiB
    assert res["oneshot.hinted_mib"] == 600
    assert abs(res["oneshot.hint_mib_s"] - 600 / (104 - 101.5)) < 1e-9
    assert abs(res["oneshot.drop_mib"] - 600) < 1
    assert abs(res["oneshot.discard_mib_s"] - 60) < 1.5
    # 99 + 1 lock holds: the p99 is in the 1-2 us bucket, bpf 500 ns/event.
    assert res["run.lock_p99_us"] == 2.047
    assert res["run.bpf_ns_per_event"] == 500
    assert h["fill_lock_ns"][0]["count"] == 99 * 7


def parse_phase_run(tmp_path, phase, rss, markers, memhog_lines, used, vm0, vm1,
                    ram_rss=None):
    """parse_hint_run on a synthetic run of one phase (churn, compile):
    its memhog lines, the guest's used-memory samples, the vmstat files
    around it, and a 10 s tail."""
    run = write_run(tmp_path, rss, markers, [], [])
    if ram_rss is not None:
        run["ram_rss"] = ram_rss
    out = tmp_path / "out"
    (out / f"memhog-{phase}.json").write_text(
        "".join(json.dumps(x) + "\n" for x in memhog_lines))
    (out / f"memused.{phase}").write_text(used)
    (out / f"vmstat.{phase}.0").write_text(vm0)
    (out / f"vmstat.{phase}.1").write_text(vm1)
    run["env"] = {f"{phase.upper()}_TAIL": "10"}
    return bench.parse_hint_run(run)[0]


def test_parse_compile_run(tmp_path):
    # Host RSS 500 MiB over the compile window (host clock 20..90: 60 s of
    # load, 10 s tail), 900 before and after (outside the window); the
    # guest's own used memory 300 MiB inside its window (guest clock
    # 200..270), 800 outside; 1024 pages reused between the vmstat files.
    rss = [(t, (500 if 20 <= t <= 90 else 900) * 1024) for t in range(0, 120)]
    markers = {"compile-start": 20.0, "compile-end": 80.0}
    mh = [{"phase": "compile", "t_ns": int(200e9)}, {"phase": "freed", "t_ns": int(260e9)},
          {"compile_procs": 42, "compile_bytes": 1, "compile_failed": 0}]
    used = "".join(f"{t / 10:.2f} {(300 if 200 <= t / 10 <= 270 else 800) * 1024}\n"
                   for t in range(1900, 2900, 2))
    # The guest RAM mapping's Rss (every other second): 380 MiB in the
    # window, so QEMU's own memory is 120 and the RAM 80 above the used.
    ram = [(t, (380 if 20 <= t <= 90 else 780) * 1024) for t in range(0, 120, 2)]
    res = parse_phase_run(tmp_path, "compile", rss, markers, mh, used,
                          "page_hinting_reused 100\n", "page_hinting_reused 1124\n", ram)
    assert res["compile.footprint_mib"] == 500
    assert res["compile.guest_used_mib"] == 300
    assert res["compile.excess_mib"] == 200
    assert res["compile.ram_mib"] == 380
    assert res["compile.ram_excess_mib"] == 80
    assert res["compile.vmm_own_mib"] == 120
    assert res["compile.procs"] == 42
    assert abs(res["compile.reuse_mib_s"] - 4 / 70) < 1e-12


def test_parse_churn_run(tmp_path):
    # As the compile phase: host RSS 300 MiB in the window (host 20..40:
    # 10 s churn, 10 s tail), guest used 100 MiB in its own (100..120),
    # 2048 pages reported and 512 reused between the vmstat files.
    rss = [(t, (300 if 20 <= t <= 40 else 900) * 1024) for t in range(0, 60)]
    markers = {"churn-start": 20.0, "churn-end": 30.0}
    mh = [{"phase": "churn", "t_ns": int(100e9)}, {"phase": "freed", "t_ns": int(110e9)},
          {"churn_allocs": 500, "churn_bytes": 1}]
    used = "".join(f"{t / 10:.2f} {(100 if 100 <= t / 10 <= 120 else 700) * 1024} 2000\n"
                   for t in range(900, 1300, 2))
    res = parse_phase_run(tmp_path, "churn", rss, markers, mh, used,
                          "page_hinting_reported 0\npage_hinting_reused 0\n",
                          "page_hinting_reported 2048\npage_hinting_reused 512\n")
    assert res["churn.footprint_mib"] == 300
    assert res["churn.guest_used_mib"] == 100
    assert res["churn.excess_mib"] == 200
    # A run without the RAM's samples (an older runner): the split is
    # not measured, None, not 0.
    assert res["churn.ram_mib"] is None and res["churn.vmm_own_mib"] is None
    assert res["churn.ram_excess_mib"] is None
    assert res["churn.hinted_reused_pct"] == 25
    assert abs(res["churn.reuse_mib_s"] - 2 / 20) < 1e-12
    assert res["churn.allocs_per_s"] == 50


def test_madvise_floor_is_a_real_measurement():
    # Discarding 64 MiB takes a positive time, and more bytes take
    # longer than none at all (1 MiB).
    big = min(benchlib.madvise_floor_s(64) for _ in range(3))
    assert big > 0
    assert big > min(benchlib.madvise_floor_s(1) for _ in range(3)) * 0.5


def test_memhog_fragmented_free(tmp_path):
    p = subprocess.run([need(MEMHOG, "make tools"), "-F", "-m", "40", "-M", str(tmp_path)],
                       capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    lines = [json.loads(l) for l in p.stdout.splitlines()]
    assert [x["phase"] for x in lines if "phase" in x] == [
        "frag-alloc", "frag-touched", "frag-freed", "frag-rest"]
    st = [x for x in lines if "frag_order0_bytes" in x][0]
    # 40 MiB: the last 1/8 rounded to whole 4 MiB blocks, one page of two
    # of the rest.
    assert st["frag_high_bytes"] == 4 << 20 and st["frag_high_blocks"] == 1
    assert st["frag_order0_bytes"] == (36 << 20) // 2
    assert sorted(os.listdir(tmp_path)) == ["frag-alloc.1", "frag-freed.1",
                                            "frag-rest.1", "frag-touched.1"]
    p = subprocess.run([MEMHOG, "-F", "-m", "4"], capture_output=True, text=True)
    assert p.returncode == 2 and "at least 8 MiB" in p.stderr


def test_bench_missing_kernel_is_a_clear_error(tmp_path):
    env = dict(os.environ, BUILD=str(tmp_path))
    p = subprocess.run([PY, os.path.join(TOP, "bench", "bench.py"), "--configs", "mainline",
                        "--no-pagefault", "--no-density", "--no-history"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 1
    assert "missing for 'mainline'" in p.stderr and "hint:" in p.stderr
    p = subprocess.run([PY, os.path.join(TOP, "bench", "bench.py"), "--configs", "nope"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 2 and "unknown config 'nope'" in p.stderr
    # -n 0 is refused, not taken as "the profile's default"
    p = subprocess.run([PY, os.path.join(TOP, "bench", "bench.py"), "-n", "0"],
                       capture_output=True, text=True, env=env, timeout=60)
    assert p.returncode == 2 and "at least 1 sample" in p.stderr


def test_density_budget_counts_an_oom_kill():
    import cgroup_budget
    cg = cgroup_budget.Cgroup(f"pagehint-test-{os.getpid()}", 64 << 20)
    try:
        small = subprocess.run([need(MEMHOG, "make tools"), "-m", "16"],
                               preexec_fn=cg.enter, capture_output=True)
        assert small.returncode == 0 and not cg.exceeded()
        big = subprocess.run([MEMHOG, "-m", "256"], preexec_fn=cg.enter,
                             capture_output=True)
        assert big.returncode == -9, "a 256 MiB process fit a 64 MiB budget"
        assert cg.exceeded()
        st = cg.stats()
        assert st["oom_kill"] >= 1
        assert st["limit_mib"] == 64 and 60 <= st["peak_mib"] <= 64
    finally:
        cg.remove()


def test_compare_across_profiles_leaves_run_shape_metrics_out(tmp_path):
    # A CI run boots for one phase, a full run for three: wall time per
    # boot halves without any commit making anything faster.
    hist = tmp_path / "history.jsonl"
    a = {"commit": "aaaa111", "profile": "full",
         "samples": {"run.wall_s": {"mainline": [70, 70.5, 70.2]},
                     "oneshot.t90_s": {"mainline": [6.0, 6.05, 6.02]}}}
    b = {"commit": "bbbb222", "profile": "ci",
         "samples": {"run.wall_s": {"mainline": [31, 31.2, 31.4]},
                     "oneshot.t90_s": {"mainline": [8.0, 8.1, 8.05]}}}
    hist.write_text(json.dumps(a) + "\n" + json.dumps(b) + "\n")
    p = subprocess.run([PY, os.path.join(TOP, "bench", "compare.py"), "aaaa", "bbbb",
                        "--history", str(hist)], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "profiles differ" in p.stdout and "run.wall_s" not in p.stdout
    flagged = [l for l in p.stdout.splitlines() if "REGRESSION" in l]
    assert len(flagged) == 1 and "oneshot.t90_s (mainline)" in flagged[0]


class FakeStream:
    def __init__(self, tty):
        self.tty, self.text = tty, ""

    def isatty(self):
        return self.tty

    def write(self, s):
        self.text += s

    def flush(self):
        pass


def test_progress_says_step_what_and_time_left_in_plain_lines():
    """CI (no terminal): a line per step; the estimate is the mean step
    so far times the steps left (a fake clock: 40 s, then 50 s steps)."""
    now = [100.0]
    out = FakeStream(False)
    p = benchlib.Progress(4, out, clock=lambda: now[0])
    p.step("stock, sample 1 of 2")
    now[0] += 40
    p.step("mainline, sample 1 of 2")
    now[0] += 50
    p.log("  mainline #0: t90_s 6.04")
    p.step("stock, sample 2 of 2")
    p.close()
    assert out.text.splitlines() == [
        "bench: step 1/4: stock, sample 1 of 2, time left not known yet",
        "bench: step 2/4: mainline, sample 1 of 2, about 2m00s left",
        "  mainline #0: t90_s 6.04",
        "bench: step 3/4: stock, sample 2 of 2, about 1m30s left",
    ]
    assert "\r" not in out.text


def test_progress_redraws_one_line_on_a_terminal():
    out = FakeStream(True)
    p = benchlib.Progress(2, out, clock=lambda: 0.0)
    p.step("density, no-hint")
    p.log("  density no-hint: 6 guests")
    p.step("density, hint")
    p.close()
    assert out.text == (
        "\r\x1b[Kbench: step 1/2: density, no-hint, time left not known yet"
        "\r\x1b[K  density no-hint: 6 guests\n"
        "\r\x1b[Kbench: step 1/2: density, no-hint, time left not known yet"
        "\r\x1b[Kbench: step 2/2: density, hint, about 0s left\n")


@pytest.mark.timeout(60)
def test_host_tracer_waits_for_tracing_with_a_deadline(tmp_path, monkeypatch):
    """pagefault.py's HostTracer returns once the tracer says "Tracing",
    and a tracer that hangs without a word fails the sample within the
    deadline instead of stalling the bench."""
    ok, mute = tmp_path / "ok", tmp_path / "mute"
    ok.write_text("#!/bin/sh\necho loading >&2\necho 'Tracing 1 VMM' >&2\nexec sleep 30\n")
    mute.write_text("#!/bin/sh\nexec sleep 30\n")
    for f in (ok, mute):
        f.chmod(0o755)
    monkeypatch.setattr(pagefault, "HINTSTAT", str(ok))
    t = pagefault.HostTracer()
    t(1, timeout=20)
    assert t.proc.poll() is None
    t.proc.kill()
    t.proc.wait()
    monkeypatch.setattr(pagefault, "HINTSTAT", str(mute))
    t0 = time.monotonic()
    with pytest.raises(SystemExit, match="did not attach within 1 s"):
        pagefault.HostTracer()(1, timeout=1)
    assert time.monotonic() - t0 < 10
