"""The bench dashboard in a real browser (Debian's chromium, headless):
the page renders, every plot has the data points of the results it was
made from, regression flags sit where the history has a regression, the
console is clean. The screenshot is kept in build/test-artifacts/."""
import html
import os
import random
import re
import shutil
import statistics
import subprocess
import sys

import pytest

from conftest import BUILD, TOP

sys.path.insert(0, os.path.join(TOP, "bench"))
import benchlib  # noqa: E402
import browser  # noqa: E402
import dashboard  # noqa: E402

ARTIFACTS = os.path.join(BUILD, "test-artifacts")


@pytest.fixture(scope="module", autouse=True)
def chromium():
    if not shutil.which("chromium"):
        subprocess.run([os.path.join(TOP, "scripts", "deps-bench.sh")], check=True)
    assert shutil.which("chromium"), "chromium missing (hint: scripts/deps-bench.sh)"


def synthetic():
    rnd = random.Random(7)
    noise = lambda m, n=5: [rnd.gauss(m, m * 0.02) for _ in range(n)]  # noqa: E731
    hist = []
    for i, c in enumerate(["1111111", "2222222", "3333333", "4444444"]):
        t90 = 9.0 if i < 3 else 12.0          # regression at the last commit
        hist.append({
            "commit": c, "time": f"2026-01-0{i + 1}T00:00:00Z", "profile": "full",
            "accel": "tcg", "cpu": "test cpu", "nproc": 2, "steal_pct": 0.0,
            "kernels": {"stock": "6.12.x-amd64", "mainline": "6.12.x-pagehint"},
            "samples": {
                "oneshot.t90_s": {"stock": noise(10.0), "mainline": noise(t90)},
                "oneshot.hint_mib_s": {"mainline": noise(70.0)},
                "churn.footprint_mib": {"stock": noise(400), "mainline": noise(300)},
                "pagefault.faults_per_s": {"off": noise(2e5, 3), "on": noise(1.9e5, 3)},
                # One sample only: drawn, never flagged.
                "density.guests": {"no-hint": [3], "hint": [6 + (i == 3)]},
            }})
    latest = dict(hist[-1])
    latest["hist"] = {"mainline": {
        "fill_lock_ns": [{"min": 1024, "max": 2047, "count": 5},
                         {"min": 2048, "max": 4095, "count": 0},
                         {"min": 4096, "max": 8191, "count": 2}],
        "drain_lock_ns": [{"min": 512, "max": 1023, "count": 7}],
        "pass_ns": [], "react_ns": []}}
    latest["density"] = {"no-hint": {"guests": 3, "stopped": "oom", "oom_kill": 1,
                                     "max_events": 10, "peak_mib": 3072},
                         "budget_mib": 3072}
    return hist, latest


def points(dom):
    """{metric: [(config, run, value, classes)]} from the rendered DOM."""
    out = {}
    for m in re.finditer(r'<svg class="plot" data-metric="([^"]+)".*?</svg>', dom, re.S):
        pts = re.findall(r'<circle class="([^"]+)"[^>]*data-config="([^"]+)" '
                         r'data-run="(\d+)" data-v="([^"]+)"', m.group(0))
        out[html.unescape(m.group(1))] = [(c, int(r), float(v), cls.split())
                                          for cls, c, r, v in pts]
    return out


def check_page(dom, history):
    """Every plot has exactly the medians the history holds."""
    got = points(dom)
    want_keys = {k for r in history for k in r["samples"]}
    assert set(got) == want_keys
    for key in want_keys:
        want = sorted((cfg, i, statistics.median(v)) for i, r in enumerate(history)
                      for cfg, v in r["samples"].get(key, {}).items()
                      if [x for x in v if x is not None])
        have = sorted((c, r, v) for c, r, v, _ in got[key])
        assert len(have) == len(want) and have, key
        for (c1, r1, v1), (c2, r2, v2) in zip(have, want):
            assert (c1, r1) == (c2, r2) and abs(v1 - v2) <= 1e-9 * max(1, abs(v2)), key
    return got


def test_dashboard_renders_synthetic_history_with_flags(tmp_path):
    hist, latest = synthetic()
    page = tmp_path / "index.html"
    page.write_text(dashboard.render(hist, latest))
    os.makedirs(ARTIFACTS, exist_ok=True)
    shot = os.path.join(ARTIFACTS, "dashboard-synthetic.png")
    dom, cons, problems = browser.inspect(str(page), shot)
    assert not problems, problems
    assert not cons
    assert re.search(r'<body[^>]*data-plots="5"', dom) and 'data-empty=""' in dom
    got = check_page(dom, hist)
    # The regression (t90 9 -> 12 s, mainline) is flagged, at the last
    # commit only; the stock series and the noise elsewhere are not.
    flagged = [(k, c, r) for k, pts in got.items() for c, r, _, cls in pts if "flag" in cls]
    assert flagged == [("oneshot.t90_s", "mainline", 3)]
    assert "REGRESSION" in dom or "regression</td>" in dom
    # Histograms of the latest run: the two with data, bars as counted.
    bars = re.findall(r'data-hist="(\w+)" data-config="mainline".*?</svg>', dom, re.S)
    assert sorted(bars) == ["drain_lock_ns", "fill_lock_ns"]
    counts = re.findall(r'data-count="(\d+)"', dom)
    assert sorted(map(int, counts)) == [0, 2, 5, 7]
    assert os.path.getsize(shot) > 10000


def test_dashboard_of_the_recorded_history(tmp_path):
    # The history the README's numbers come from, as `make dashboard`
    # draws it (bench/dashboard.py, then the browser check).
    hist = benchlib.load_history()
    assert hist, "bench/history.jsonl is empty (hint: make bench)"
    out = tmp_path / "index.html"
    shot = os.path.join(ARTIFACTS, "dashboard.png")
    p = subprocess.run(["/usr/bin/python3", os.path.join(TOP, "bench", "dashboard.py"),
                        "-o", str(out), "--no-results"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    p = subprocess.run(["/usr/bin/python3", os.path.join(TOP, "bench", "browser.py"),
                        str(out), "--screenshot", shot], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert "plots with data, console clean" in p.stdout
    dom, _, problems = browser.inspect(str(out))
    assert not problems
    check_page(dom, hist)


def test_browser_check_catches_console_errors_and_empty_plots(tmp_path):
    bad = tmp_path / "bad.html"
    bad.write_text("<html><body><svg class='plot' data-metric='x'></svg>"
                   f"<script>{dashboard.CHECK_JS}</script>"
                   "<script>nosuchfunction();</script></body></html>")
    _, cons, problems = browser.inspect(str(bad))
    assert any("Uncaught ReferenceError" in c for c in cons)
    assert any("plots without data: x" in p for p in problems)
    p = subprocess.run(["/usr/bin/python3", os.path.join(TOP, "bench", "browser.py"),
                        str(bad)], capture_output=True, text=True)
    assert p.returncode == 1 and "console:" in p.stderr
