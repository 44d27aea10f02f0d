"""The Prometheus side of a fleet: the rules an operator loads and the
metrics every mode exports, checked with Debian's promtool.

- fleet/rules/pagehint.rules.yml passes `promtool check rules`, and
  `promtool test rules` runs its unit tests (each alert on series that
  should fire it and on near misses); a rule weakened on purpose makes
  those tests fail, so they can.
- `promtool check metrics` is clean on the live output of hintstat on
  this machine (the tracepoint-only mode it runs in here), of hintstat
  host on one stand-in VMM (-p) and on several (labelled series), and of
  hintstat report on every record seed (guest tracepoints, fallback,
  tracepoint-only; host).
"""
import glob
import os
import shutil
import subprocess

import pytest

from conftest import BUILD, TOP, need
from hostlib import RAM_MIB, RamVmm, qemu_link
from promlib import check_metrics, promtool

HINTSTAT = os.path.join(BUILD, "bin", "hintstat")
RULES = os.path.join(TOP, "fleet", "rules")
SEEDS = os.path.join(TOP, "tools", "hintstat", "fuzz", "corpus", "record")


def test_rules_check_clean():
    p = promtool("check", "rules", os.path.join(RULES, "pagehint.rules.yml"))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "SUCCESS: 9 rules found" in p.stdout


def test_rules_unit_tests_pass():
    p = promtool("test", "rules", os.path.join(RULES, "pagehint.rules.test.yml"))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "SUCCESS" in p.stdout


@pytest.mark.parametrize("old,new", [
    ("pagehint_host_not_discarded_bytes > 0",
     "pagehint_host_not_discarded_bytes > 1e12"),
    ("vm:pagehint_host_refault_ratio:rate5m > 0.5",
     "vm:pagehint_host_refault_ratio:rate5m > 0.8"),
    ("== 0\n", "== 1\n"),
])
def test_a_weakened_rule_fails_its_unit_tests(tmp_path, old, new):
    """The unit tests catch a rule that no longer fires."""
    with open(os.path.join(RULES, "pagehint.rules.yml")) as f:
        rules = f.read()
    assert old in rules
    (tmp_path / "pagehint.rules.yml").write_text(rules.replace(old, new, 1))
    shutil.copy(os.path.join(RULES, "pagehint.rules.test.yml"), tmp_path)
    p = promtool("test", "rules", str(tmp_path / "pagehint.rules.test.yml"))
    assert p.returncode != 0 and "FAILED" in p.stdout + p.stderr, p.stdout


@pytest.mark.parametrize("seed", sorted(glob.glob(os.path.join(SEEDS, "*.hsrec"))),
                         ids=os.path.basename)
def test_report_metrics_are_clean(seed, tmp_path):
    out = tmp_path / "m.prom"
    p = subprocess.run([need(HINTSTAT, "make tools"), "report", "--prom",
                        str(out), seed], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, p.stderr
    check_metrics(out.read_text())


def test_live_metrics_of_this_machine_are_clean(tmp_path):
    """hintstat here (a Firecracker guest: the tracepoint-only mode)."""
    out = tmp_path / "m.prom"
    p = subprocess.run([need(HINTSTAT, "make tools"), "--prom", str(out),
                        "0.3", "2"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert "pagehint_passes_total" in check_metrics(out.read_text())


def test_live_host_metrics_are_clean(tmp_path):
    """hintstat host on one stand-in (-p: no labels) and on two (no -p:
    pid and vm labels)."""
    link = qemu_link(tmp_path)
    with RamVmm("4k", RAM_MIB, argv0=link,
                extra=["-m", f"{RAM_MIB}M", "-name", "guest=a"]) as a, \
            RamVmm("4k", RAM_MIB, argv0=link,
                   extra=["-m", f"{RAM_MIB}M", "-name", "guest=b"]):
        a.do("dontneed 0 1048576")
        for args, label in ((["-p", str(a.pid)], None),
                            (["-n", "qemu-system-pag"], 'vm="b"')):
            out = tmp_path / "h.prom"
            host = subprocess.run(
                [need(HINTSTAT, "make tools"), "host", *args, "--prom",
                 str(out), "0.3", "2"],
                capture_output=True, text=True, timeout=60)
            assert host.returncode == 0, host.stderr
            text = check_metrics(out.read_text())
            assert "pagehint_host_rss_bytes" in text
            assert f'pagehint_info{{version="0.2",mode="host",kernel="{os.uname().release}"}} 1' in text
            if label:
                assert label in text and f'pid="{a.pid}",vm="a"' in text
            else:
                assert "vm=" not in text
