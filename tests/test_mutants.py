"""Mutation testing of the kernel series (scripts/mutants.py): every
seeded bug (the count decrement deleted, a merged block flagged, a
vmstat count skipped, capacity off by one, the delay not re-armed, a
merge counted as reuse, ...) is built into the default kernel's tree out
of tree and booted with the KUnit suite; the suite must fail on every
one, and pass on the unmutated control. The report names each mutant
and the test that killed it (build/mutants.json).
"""
import json
import os
import subprocess

import pytest

from conftest import BUILD, KERNEL, TOP, need

pytestmark = pytest.mark.vm


def test_every_mutant_is_killed():
    need(KERNEL, "make kernel")
    out = os.path.join(BUILD, "mutants.json")
    p = subprocess.run(["/usr/bin/python3", os.path.join(TOP, "scripts", "mutants.py"),
                        "--out", out], capture_output=True, text=True,
                       timeout=3000)
    print(p.stdout, p.stderr)
    with open(out) as f:
        report = json.load(f)
    assert not report["control"]["killers"], report["control"]
    assert len(report["control"]["cases"]) >= 7
    survivors = [n for n, m in report["mutants"].items() if not m["killed"]]
    assert not survivors, p.stdout
    assert len(report["mutants"]) >= 6
    assert p.returncode == 0, p.stdout + p.stderr
