"""The kernel series is bisectable (scripts/series_check.py): each prefix,
patch 1 alone, 1 and 2, ..., the whole series, applied to a fresh
linux-source-6.12 tree, compiles the files it touches with W=1 without a
warning, builds bzImage without a warning, and boots. The report names
each prefix (build/series-check.json).
"""
import json
import os
import subprocess

import pytest

from conftest import BUILD, INITRD, KERNEL, TOP, need

pytestmark = pytest.mark.vm


def series():
    with open(os.path.join(TOP, "kernel", "series")) as f:
        return [l.strip() for l in f if l.strip() and not l.startswith("#")]


def test_every_prefix_builds_w1_clean_and_boots():
    """Cold (no ccache) the check took 1542 s here, warm about 12 min;
    within the vm marker's limit (conftest.VM_TIMEOUT_S)."""
    need(KERNEL, "make kernel")
    need(INITRD, "make guest")
    out = os.path.join(BUILD, "series-check.json")
    p = subprocess.run(["/usr/bin/python3",
                        os.path.join(TOP, "scripts", "series_check.py"),
                        "--out", out], capture_output=True, text=True,
                       timeout=2300)
    print(p.stdout, p.stderr)
    with open(out) as f:
        report = json.load(f)
    patches = series()
    assert report["patches"] == len(patches) >= 8
    assert [r["patch"] for r in report["prefixes"]] == patches, p.stdout
    for r in report["prefixes"]:
        assert r["error"] is None, r
        assert r["boot_s"] > 0
    # Every patch that changes kernel code had its files built with W=1.
    assert sum(bool(r["w1"]) for r in report["prefixes"]) >= len(patches) - 1
    assert p.returncode == 0, p.stdout + p.stderr
