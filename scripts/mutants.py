#!/usr/bin/python3
"""Mutation testing of the kernel series: seeded bugs the tests must catch.

Each mutant is one small edit of the patched tree (build/src/linux-6.12,
as scripts/kernel.sh leaves it): a bug the series must never have. It is
built out of tree in build/kernel-mutant with the default kernel's
config (same source paths, so ccache serves every file the mutant does
not touch), booted without a reporting device and its KUnit suite run
(kunit.enable=1). A mutant is killed when the suite reports a failure or
the boot fails or splats. The unmutated tree runs first, as the control:
it must pass, or no kill means anything.

    /usr/bin/python3 scripts/mutants.py [--only NAME ...] [--out FILE]

Needs `make kernel` first (the patched tree and its .config). Writes
build/mutants.json and prints one line per mutant: killed or SURVIVED,
and by which test. The tree is restored after every mutant, also on
Ctrl-C or an error; scripts/kernel.sh re-patches a tree it finds changed.
Exit status: 0 every mutant killed, 1 a mutant survived or the control
failed, 2 bad usage or missing build.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "vm"))
import pagehint_vm  # noqa: E402

BUILD = os.environ.get("BUILD", os.path.join(TOP, "build"))
SRC = os.path.join(BUILD, "src", "linux-6.12")
OUT = os.path.join(BUILD, "kernel-mutant")
DEFAULT = os.path.join(BUILD, "kernel-default")

# name: (file, old, new, what it breaks). `old` must occur exactly once.
MUTANTS = {
    "decrement-deleted": (
        "mm/page_reporting.c", "\tarea->nr_reported--;\n", "\n",
        "a reported block leaves a free list, its count stays"),
    "flag-merged-block": (
        "mm/page_reporting.c",
        "if (PageBuddy(page) && buddy_order(page) == order) {",
        "if (PageBuddy(page)) {",
        "a block that merged on its way back is flagged (and counted at "
        "its old order)"),
    "vmstat-skipped": (
        "mm/page_reporting.c",
        "\t\tcount_vm_events(PAGE_HINTING_REPORTED, bytes >> PAGE_SHIFT);\n",
        "\n", "page_hinting_reported is not counted"),
    "capacity-off-by-one": (
        "mm/page_reporting.c",
        "if (param_set_uint_minmax(val, kp, 1, PAGE_REPORTING_CAPACITY))",
        "if (param_set_uint_minmax(val, kp, 1, PAGE_REPORTING_CAPACITY + 1))",
        "a capacity of 33 is accepted: the batch overruns its scatterlist"),
    "batch-off-by-one": (
        "mm/page_reporting.c",
        "\tpass.capacity = READ_ONCE(page_reporting_capacity);\n",
        "\tpass.capacity = READ_ONCE(page_reporting_capacity) - 1;\n",
        "a pass uses one entry less per batch than asked"),
    "delay-not-rearmed": (
        "mm/page_reporting.c",
        "\t\tmod_delayed_work(system_freezable_wq, &prdev->work,\n"
        "\t\t\t\t page_reporting_delay());\n",
        "\t\t;\n",
        "a new delay leaves a queued pass on the old one"),
    "reuse-on-merge": (
        "mm/page_alloc.c",
        "page_reporting_reuse(reported, zone, order, 0,\n"
        "\t\t\t\t\t     PAGE_REPORTING_REUSE_MERGE);",
        "page_reporting_reuse(reported, zone, order, 1UL << order,\n"
        "\t\t\t\t\t     PAGE_REPORTING_REUSE_MERGE);",
        "a merge with a reported block counts as pages handed out"),
    "adaptive-never-backs-off": (
        "mm/page_reporting.c", "\t\tcur = max_ms;\n", "\t\tcur /= 2;\n",
        "the adaptive delay shrinks under reuse instead of backing off"),
    "adaptive-unbounded": (
        "mm/page_reporting.c", "\treturn clamp(cur, lo, max_ms);\n",
        "\treturn max(cur, lo);\n",
        "the adaptive delay grows past page_reporting_delay_ms: memory can "
        "stay unreported for good"),
    "adaptive-ignores-bulk-free": (
        "mm/page_reporting.c",
        "\tif (free - page_reporting_adapt.low >= page_reporting_bulk_pages())\n",
        "\tif (free - page_reporting_adapt.low > free)\n",
        "a bulk free waits out the backed-off delay"),
    "reserve-never-shrinks": (
        "mm/page_reporting.c", "\telse if (decay)\n\t\tcur -= cur / 4;\n",
        "\telse if (decay)\n\t\t;\n",
        "the reserve only grows: free memory can stay unreported for good"),
    "reserve-not-held": (
        "mm/page_reporting.c",
        "\tif (!pass->keep || pass->unreported >= pass->keep + (1UL << order))\n",
        "\tif (true)\n",
        "a pass reports through the reserve"),
    "reserve-ignores-bulk-free": (
        "mm/page_reporting.c",
        "\tif (free - min(free, page_reporting_adapt.low) <\n"
        "\t    page_reporting_bulk_pages())\n",
        "\tif (free - min(free, page_reporting_adapt.low) <\n"
        "\t    ULONG_MAX)\n",
        "a job's end is held back by the reserve"),
}

KTAP_CASE = re.compile(r"^\s+(not ok|ok) \d+ (page_reporting_test_\w+)")


def kmake(*args, out=OUT):
    """make in the patched tree, out of tree in `out`, as kernel.sh does."""
    env = dict(os.environ, CCACHE_BASEDIR=BUILD, CCACHE_NOHASHDIR="1",
               KBUILD_BUILD_TIMESTAMP="2024-11-17", KBUILD_BUILD_USER="pagehint",
               KBUILD_BUILD_HOST="pagehint")
    cc = "ccache gcc" if shutil.which("ccache") else "gcc"
    return subprocess.run(["make", "-s", "-C", SRC, f"O={out}", "ARCH=x86_64",
                           f"CC={cc}", f"HOSTCC={cc}", f"-j{os.cpu_count()}",
                           *args], env=env, capture_output=True, text=True,
                          timeout=3600)


def prepare(out=OUT, who="mutants"):
    """An out-of-tree build dir with the default kernel's config."""
    cfg = os.path.join(DEFAULT, ".config")
    if not os.path.exists(cfg) or not os.path.exists(os.path.join(SRC, ".pagehint-series")):
        raise SystemExit(f"{who}: no patched tree or config (hint: make kernel)")
    os.makedirs(out, exist_ok=True)
    shutil.copy(cfg, os.path.join(out, ".config"))
    r = kmake("olddefconfig", out=out)
    if r.returncode:
        raise SystemExit(f"{who}: olddefconfig failed: {r.stderr[-2000:]}")


def run_kunit(name):
    """(killers, detail): failing KUnit cases, or why the boot failed."""
    r = kmake("bzImage")
    if r.returncode:
        return ["build"], r.stderr.strip().splitlines()[-1:]
    out = os.path.join(BUILD, "runs", "mutant-" + name)
    res = pagehint_vm.run(os.path.join(OUT, "arch/x86/boot/bzImage"),
                          os.path.join(BUILD, "guest", "initramfs.cpio.gz"),
                          "kunit", out, timeout=240, balloon=False,
                          append="kunit.enable=1")
    try:
        with open(os.path.join(res["outdir"], "dmesg.txt"), errors="replace") as f:
            dmesg = f.read()
    except FileNotFoundError:
        dmesg = ""
    cases = {m[2]: m[1] == "ok" for m in map(KTAP_CASE.match, dmesg.splitlines()) if m}
    killers = sorted(c for c, ok in cases.items() if not ok)
    if res["splats"]:
        killers.append("kernel log: " + res["splats"][0])
    if not cases:
        killers.append("boot: " + (res.get("error") or "no KTAP output"))
    return killers, sorted(cases)


def mutate(path, old, new):
    with open(path) as f:
        text = f.read()
    if text.count(old) != 1:
        raise SystemExit(f"mutants: {os.path.relpath(path, SRC)}: the text to "
                         f"mutate occurs {text.count(old)} times (the series changed?)")
    with open(path, "w") as f:
        f.write(text.replace(old, new))
    return text


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="*", choices=sorted(MUTANTS))
    ap.add_argument("--out", default=os.path.join(BUILD, "mutants.json"))
    a = ap.parse_args()
    prepare()
    t0 = time.monotonic()
    control, cases = run_kunit("control")
    report = {"control": {"killers": control, "cases": cases}, "mutants": {}}
    print(f"control: {'ok' if not control else 'FAILED: ' + ', '.join(control)} "
          f"({len(cases)} KUnit cases)")
    ok = not control and cases
    for name in a.only or MUTANTS:
        rel, old, new, what = MUTANTS[name]
        path = os.path.join(SRC, rel)
        original = mutate(path, old, new)
        try:
            killers, _ = run_kunit(name)
        finally:
            with open(path, "w") as f:
                f.write(original)
        report["mutants"][name] = {"file": rel, "breaks": what, "killed": bool(killers),
                                   "killers": killers}
        print(f"{name}: {'killed by ' + ', '.join(killers) if killers else 'SURVIVED'}"
              f"  ({what})")
        ok = ok and bool(killers)
    report["seconds"] = round(time.monotonic() - t0)
    with open(a.out, "w") as f:
        json.dump(report, f, indent=1)
    print(f"{sum(m['killed'] for m in report['mutants'].values())} of "
          f"{len(report['mutants'])} mutants killed in {report['seconds']} s; {a.out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
