"""Shared pieces of the pagehint benchmarks: paths, run metadata, stats."""
import os
import platform
import statistics
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "vm"))

import pagehint_vm  # noqa: E402,F401

BUILD = os.environ.get("BUILD", os.path.join(TOP, "build"))


def kernel(flavour):
    """(kernel image, initramfs) of a build flavour or the stock kernel."""
    if flavour == "stock":
        return (os.path.join(BUILD, "stock/vmlinuz"),
                os.path.join(BUILD, "stock/initramfs.cpio.gz"))
    return (os.path.join(BUILD, f"kernel-{flavour}/arch/x86/boot/bzImage"),
            os.path.join(BUILD, "guest/initramfs.cpio.gz"))


def arg_parser(doc, name, configs):
    """The options every benchmark has: samples, configs, output."""
    import argparse
    ap = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    ap.add_argument("-n", "--samples", type=int, default=5)
    ap.add_argument("--configs", default=",".join(configs))
    ap.add_argument("-o", "--output",
                    default=os.path.join(BUILD, "bench", name + ".json"))
    return ap


def pick_configs(ap, spec, configs):
    names = spec.split(",")
    for n in names:
        if n not in configs:
            ap.error(f"unknown config '{n}' (known: {', '.join(configs)})")
    return names


def meta(name):
    commit = subprocess.run(["git", "-C", TOP, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip()
    return {"bench": name, "version": 1, "commit": commit,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "host": platform.node(), "nproc": os.cpu_count(),
            "cpu": platform.processor() or platform.machine()}


def stats(vals):
    """median, min, max and n of the non-None values, or None."""
    vals = [v for v in vals if v is not None]
    if not vals:
        return None
    return {"median": statistics.median(vals), "min": min(vals),
            "max": max(vals), "n": len(vals)}


def fmt(s, digits=2):
    if s is None:
        return "-"
    return f"{s['median']:.{digits}f} [{s['min']:.{digits}f}..{s['max']:.{digits}f}]"
