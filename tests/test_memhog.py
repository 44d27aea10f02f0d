"""memhog, the guest workload, run on the host."""
import json
import os
import subprocess
import time

from conftest import MEMHOG, need


def memhog(*args):
    return subprocess.run([need(MEMHOG, "make tools")] + list(args),
                          capture_output=True, text=True, timeout=60)


def rss_peak_kib(args):
    """Peak RSS of a memhog run from the kernel: the largest VmHWM of
    /proc/PID/status read while it runs (give it a hold, -H). Not wait4's
    ru_maxrss: exec keeps the high-water mark of the mm it replaces, and
    a child forked from pytest starts out as large as pytest."""
    p = subprocess.Popen([need(MEMHOG, "make tools")] + list(args),
                         stdout=subprocess.DEVNULL)
    peak = 0
    try:
        while p.poll() is None:
            try:
                with open(f"/proc/{p.pid}/status") as f:
                    hwm = [l for l in f if l.startswith("VmHWM:")]
            except OSError:
                break
            if hwm:
                peak = max(peak, int(hwm[0].split()[1]))
            time.sleep(0.05)
    finally:
        p.wait(60)
    assert p.returncode == 0
    return peak


def test_oneshot_phases_and_markers(tmp_path):
    p = memhog("-m", "8", "-r", "2", "-M", str(tmp_path))
    assert p.returncode == 0, p.stderr
    phases = [json.loads(l) for l in p.stdout.splitlines()]
    assert [x["phase"] for x in phases] == ["alloc", "touched", "freed"] * 2
    assert [x["round"] for x in phases] == [1, 1, 1, 2, 2, 2]
    ts = [x["t_ns"] for x in phases]
    assert ts == sorted(ts)
    names = sorted(os.listdir(tmp_path))
    assert names == ["alloc.1", "alloc.2", "freed.1", "freed.2",
                     "touched.1", "touched.2"]
    assert int((tmp_path / "freed.2").read_text()) == phases[-1]["t_ns"]


def test_touches_every_page():
    # Writing every page makes the memory resident: peak RSS >= size,
    # and not much more (the static binary's own pages).
    assert 48 * 1024 <= rss_peak_kib(["-m", "48", "-H", "1000"]) <= 52 * 1024


def test_churn_runs_and_frees():
    p = memhog("-c", "1", "-m", "32", "-t", "2")
    assert p.returncode == 0, p.stderr
    stats = json.loads(p.stdout.splitlines()[-1])
    assert stats["churn_allocs"] > 10
    assert stats["churn_bytes"] > 0


def test_bad_arguments():
    for args in (["-m", "x"], ["-m", "-5"], ["-m", "0"], ["extra"], ["-Z"]):
        p = memhog(*args)
        assert p.returncode == 2, args
        assert p.stderr.strip(), args
        assert "memhog -h" in p.stderr


def test_unwritable_marker_dir():
    p = memhog("-m", "1", "-M", "/nonexistent/dir")
    assert p.returncode == 1
    assert "cannot create /nonexistent/dir/alloc.1" in p.stderr


def test_pagefault_loop_counts_every_page():
    p = memhog("-f", "1", "-m", "16")
    assert p.returncode == 0, p.stderr
    r = json.loads(p.stdout)
    assert r["loops"] >= 1
    assert r["faults"] == r["loops"] * 16 * 256
    assert r["seconds"] >= 1.0
    # seconds is printed rounded to 1 ms
    assert abs(r["faults_per_s"] * r["seconds"] - r["faults"]) <= r["faults_per_s"] * 0.001


def proc_forks():
    with open("/proc/stat") as f:
        return next(int(l.split()[1]) for l in f if l.startswith("processes "))


def test_compile_like_jobs_overlap_and_exit(tmp_path):
    # -C: JOBS short-lived processes at a time, each 16..MIB MiB. The
    # kernel's own counts are the truth: forks since boot (/proc/stat),
    # and the largest job's peak RSS (memhog's RUSAGE_CHILDREN: the jobs
    # are forked from memhog, not from pytest).
    f0 = proc_forks()
    p = memhog("-C", "3", "-m", "48", "-t", "3", "-s", "5", "-M", str(tmp_path))
    assert p.returncode == 0, p.stderr
    lines = [json.loads(l) for l in p.stdout.splitlines()]
    assert [x["phase"] for x in lines if "phase" in x] == ["compile", "freed"]
    st = lines[-1]
    assert st["compile_failed"] == 0
    # 3 s with jobs of at most 3.0 s: at least one round of 3, and each
    # job's size within 16..48 MiB.
    assert st["compile_procs"] >= 3
    assert 16 << 20 <= st["compile_bytes"] / st["compile_procs"] <= 48 << 20
    assert proc_forks() - f0 >= st["compile_procs"] + 1
    # Each of a job's 4 mappings may round up to a 2 MiB THP where THP
    # is "always"; plus the static binary's own pages.
    assert 16 * 1024 <= st["compile_max_rss_kib"] <= (48 + 4 * 2 + 2) * 1024
    t = [x["t_ns"] for x in lines if "phase" in x]
    assert t[1] - t[0] >= 3e9
    assert sorted(os.listdir(tmp_path)) == ["compile.1", "freed.1"]


def test_compile_like_needs_room_for_a_job():
    p = memhog("-C", "1", "-m", "8")
    assert p.returncode == 2 and "at least 16 MiB" in p.stderr
