"""hintstat's parsers of untrusted input under libFuzzer with ASan and
UBSan (tools/hintstat/fuzz/): record files (guest and host), the guest's
stream, HTTP requests, the command line's numbers. Each target starts
from its seed corpus in the repository (every crash ever found is kept
there as a regression input, replayed first) and runs for FUZZ_S seconds
(30 here, `make fuzz` longer); its executions are printed, and any crash,
leak, sanitizer report or timeout fails the test with the input kept.
"""
import os
import re
import shutil
import subprocess

import pytest

from conftest import BUILD, TOP, need

FUZZ_DIR = os.path.join(BUILD, "hintstat", "fuzz")
CORPUS = os.path.join(TOP, "tools", "hintstat", "fuzz", "corpus")
TARGETS = ["record", "guest_stream", "http", "numbers"]
FUZZ_S = int(os.environ.get("FUZZ_S", "30"))


@pytest.mark.timeout(FUZZ_S + 120)
@pytest.mark.parametrize("target", TARGETS)
def test_fuzz_target_finds_nothing(target, tmp_path, record_property):
    binary = need(os.path.join(FUZZ_DIR, f"fuzz_{target}"), "make tools")
    seeds = os.path.join(CORPUS, target)
    assert len(os.listdir(seeds)) >= 3, f"seed corpus {seeds} too small"
    work = tmp_path / "corpus"
    work.mkdir()
    art = tmp_path / "artifacts"
    art.mkdir()
    # New inputs go to work; the repository's seeds are only read.
    p = subprocess.run(
        [binary, f"-max_total_time={FUZZ_S}", "-timeout=10",
         "-rss_limit_mb=2048", "-print_final_stats=1",
         f"-artifact_prefix={art}/", str(work), seeds],
        capture_output=True, text=True, timeout=FUZZ_S + 100, cwd=tmp_path)
    done = re.search(r"^Done (\d+) runs in (\d+) second", p.stderr, re.M)
    crashes = sorted(os.listdir(art))
    keep = os.path.join(BUILD, "fuzz-artifacts", target)
    if crashes:
        shutil.copytree(art, keep, dirs_exist_ok=True)
    line = (f"fuzz_{target}: {done.group(1) if done else '?'} executions in "
            f"{done.group(2) if done else '?'} s, {len(crashes)} crashes, "
            f"corpus {len(os.listdir(seeds))} seeds + {len(os.listdir(work))} new")
    # Shown at the end of the run, passed or not (conftest.py), and kept
    # in the JUnit XML.
    record_property("fuzz", line)
    assert p.returncode == 0 and not crashes, (
        f"fuzz_{target} failed (inputs kept in {keep}; add each to "
        f"{seeds} once fixed):\n" + p.stderr[-4000:])
    assert done and int(done.group(1)) > 1000, p.stderr[-2000:]
