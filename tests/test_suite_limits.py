"""The suite's own rules: every test has a time limit (pytest-timeout,
pytest.ini and conftest.py), and the plugin really stops a hung test;
every exact equality says what its two sides are and whether they come
from different mechanisms, and every figure checked only against
itself (the same events, the same aggregator) is also checked against
an independent one."""
import importlib
import os
import re
import subprocess
import sys

import pytest

from conftest import KERNEL_TIMEOUT_S, VM_TIMEOUT_S

# Figures with no independent check, and why.
NO_INDEPENDENT = {
    "durations": "every duration comes from the guest's own clock; "
                 "bench-clock checks that clock against the host's second",
}
EXACT_NAME = re.compile(r"equal|exact|agree")


def test_every_collected_test_has_a_limit(request):
    assert float(request.config.getini("timeout")) > 0
    for item in request.session.items:
        m = item.get_closest_marker("timeout")
        if item.get_closest_marker("vm"):
            assert m and m.args[0] <= VM_TIMEOUT_S, item.nodeid
        elif item.get_closest_marker("kernel"):
            assert m and m.args[0] <= KERNEL_TIMEOUT_S, item.nodeid


def test_a_hung_test_is_stopped(tmp_path):
    (tmp_path / "pytest.ini").write_text("[pytest]\ntimeout = 1\n")
    (tmp_path / "test_hang.py").write_text(
        "import time\n\ndef test_hang():\n    time.sleep(60)\n")
    p = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p",
                        "no:cacheprovider", str(tmp_path)], cwd=tmp_path,
                       capture_output=True, text=True, timeout=50)
    assert p.returncode == 1, p.stdout + p.stderr
    assert "Timeout >1.0s" in p.stdout, p.stdout


@pytest.mark.timeout(5)
def test_a_marker_overrides_the_default(request):
    assert request.node.get_closest_marker("timeout").args[0] == 5


def exact_claims():
    """(test name, exact marker or None) of every test function in the
    suite, read from the modules themselves: whatever -m or -k selected."""
    here = os.path.dirname(os.path.abspath(__file__))
    out = []
    for name in sorted(os.listdir(here)):
        if not (name.startswith("test_") and name.endswith(".py")):
            continue
        mod = importlib.import_module(name[:-3])
        for fname, fn in vars(mod).items():
            if not fname.startswith("test_") or not callable(fn):
                continue
            if getattr(fn, "__module__", None) != mod.__name__:
                continue        # imported from another module
            marks = [m for m in getattr(fn, "pytestmark", [])
                     if m.name == "exact"]
            out.append((f"{name}::{fname}", marks[0] if marks else None))
    return out


def test_every_exact_claim_names_its_sides():
    claims = exact_claims()
    assert len([m for _, m in claims if m]) >= 20
    for name, m in claims:
        if EXACT_NAME.search(name.split("::")[1]) and \
                not name.startswith("test_suite_limits"):
            assert m, f"{name}: an exact claim without @pytest.mark.exact"
        if not m:
            continue
        assert len(m.args) == 1 and m.args[0], name
        k = m.kwargs
        assert k["a"] and k["b"] and k["a"] != k["b"], name
        assert isinstance(k["independent"], bool) and k["why"], name


def test_every_figure_has_an_independent_check():
    figures = {}
    for _, m in exact_claims():
        if m:
            figures.setdefault(m.args[0], set()).add(m.kwargs["independent"])
    for fig, kinds in figures.items():
        if True not in kinds:
            assert fig in NO_INDEPENDENT, f"{fig}: checked only against itself"
