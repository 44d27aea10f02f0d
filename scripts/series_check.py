#!/usr/bin/python3
"""Every prefix of the kernel series builds without warnings and boots.

A series is bisectable only if each of its patches, applied in order,
leaves a kernel that compiles cleanly and runs. For k = 1..N this
applies patch k on top of patches 1..k-1 in the default kernel's tree
(build/src/linux-6.12, reset to its `pristine` tag first), then:

  - compiles every non-KUnit .c file the patch touches with W=1 (the
    extra warnings mm maintainers build with); any warning fails it;
  - builds bzImage out of tree in build/kernel-series with the default
    kernel's config (same source paths as the other builds, so ccache
    serves every file the prefix does not change); a warning fails it;
  - boots it under QEMU with the `boot` scenario; a failed boot, a
    timeout or a kernel log splat fails it.

    /usr/bin/python3 scripts/series_check.py [--out FILE]

Needs `make kernel guest` first. Writes build/series-check.json and one
line per prefix. The tree is left with the whole series applied, as
scripts/kernel.sh leaves it (also after a failure or Ctrl-C). Exit
status: 0 every prefix passed, 1 one failed, 2 missing build.
"""
import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import time

import mutants
from mutants import BUILD, SRC, TOP, kmake
import pagehint_vm

OUT = os.path.join(BUILD, "kernel-series")
INITRD = os.path.join(BUILD, "guest", "initramfs.cpio.gz")
WARNING = re.compile(r"\b(warning|error):")


def series():
    with open(os.path.join(TOP, "kernel", "series")) as f:
        return [l.strip() for l in f if l.strip() and not l.startswith("#")]


def git(*args):
    return subprocess.run(["git", "-C", SRC, *args], check=True,
                          capture_output=True, text=True).stdout


def apply(patch):
    with open(os.path.join(TOP, "kernel", patch)) as f:
        subprocess.run(["patch", "-s", "-p1", "-d", SRC], stdin=f, check=True,
                       capture_output=True, text=True)


def to_pristine():
    git("reset", "-q", "--hard", "pristine")
    git("clean", "-q", "-fdx", "-e", ".pagehint-series", "-e", ".pagehint-tree")


def touched_objects(patch):
    """The .o of every non-KUnit .c file the patch changes."""
    with open(os.path.join(TOP, "kernel", patch)) as f:
        files = re.findall(r"^\+\+\+ b/(\S+\.c)$", f.read(), re.M)
    return [f[:-2] + ".o" for f in files if not f.endswith("_kunit.c")]


def check(n, patch):
    """One prefix: {patch, subject, w1, build_s, boot_s, error}."""
    with open(os.path.join(TOP, "kernel", patch)) as f:
        # A long Subject: is folded over several lines.
        subject = re.search(r"^Subject: (?:\[PATCH[^]]*\] )?(.+(?:\n .+)*)$",
                            f.read(), re.M)[1].replace("\n", "")
    res = {"n": n, "patch": patch, "subject": subject, "error": None}
    apply(patch)
    t0 = time.monotonic()
    # The default kernel's config each time: a symbol the prefix adds
    # (the KUnit suite's) takes its value there, not its default.
    shutil.copy(os.path.join(mutants.DEFAULT, ".config"), os.path.join(OUT, ".config"))
    r = kmake("olddefconfig", out=OUT)
    objs = touched_objects(patch)
    res["w1"] = objs
    if not r.returncode and objs:
        r = kmake("W=1", *objs, out=OUT)
        warn = [l for l in (r.stdout + r.stderr).splitlines() if WARNING.search(l)]
        if r.returncode or warn:
            res["error"] = "W=1: " + "; ".join(warn[:5] or r.stderr.splitlines()[-3:])
            return res
    r = kmake("bzImage", out=OUT)
    warn = [l for l in (r.stdout + r.stderr).splitlines() if WARNING.search(l)]
    res["build_s"] = round(time.monotonic() - t0)
    if r.returncode or warn:
        res["error"] = "build: " + "; ".join(warn[:5] or r.stderr.splitlines()[-3:])
        return res
    t0 = time.monotonic()
    boot = pagehint_vm.run(os.path.join(OUT, "arch/x86/boot/bzImage"), INITRD,
                           "boot", os.path.join(BUILD, "runs", f"series-{n}"),
                           timeout=180)
    res["boot_s"] = round(time.monotonic() - t0, 1)
    if not boot["ok"]:
        res["error"] = "boot: " + (boot.get("error") or "failed")
    return res


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.path.join(BUILD, "series-check.json"))
    a = ap.parse_args()
    if not os.path.exists(INITRD):
        print("series_check: no guest initramfs (hint: make guest)", file=sys.stderr)
        return 2
    mutants.prepare(OUT, "series_check")
    patches = series()
    results = []
    t0 = time.monotonic()
    try:
        to_pristine()
        for n, patch in enumerate(patches, 1):
            res = check(n, patch)
            results.append(res)
            print(f"prefix {n}/{len(patches)} "
                  f"{'ok' if not res['error'] else 'FAILED: ' + res['error']}: "
                  f"{res['subject']} (build {res.get('build_s', '-')} s, "
                  f"boot {res.get('boot_s', '-')} s, W=1 on {len(res['w1'])} files)",
                  flush=True)
            if res["error"]:
                break
    finally:
        # Leave the tree as kernel.sh does: the whole series applied.
        to_pristine()
        for patch in patches:
            apply(patch)
    report = {"patches": len(patches), "prefixes": results,
              "seconds": round(time.monotonic() - t0)}
    with open(a.out, "w") as f:
        json.dump(report, f, indent=1)
    ok = len(results) == len(patches) and not any(r["error"] for r in results)
    print(f"{sum(not r['error'] for r in results)} of {len(patches)} prefixes "
          f"build W=1 clean and boot ({report['seconds']} s); {a.out}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
