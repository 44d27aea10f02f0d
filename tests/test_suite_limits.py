"""The suite's own limits: every test has a time limit (pytest-timeout,
pytest.ini and conftest.py), and the plugin really stops a hung test."""
import subprocess
import sys

import pytest

from conftest import KERNEL_TIMEOUT_S, VM_TIMEOUT_S


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
