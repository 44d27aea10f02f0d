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


# ---- shared by bench.py, compare.py and dashboard.py ----------------------

import json  # noqa: E402
import math  # noqa: E402

HISTORY = os.path.join(TOP, "bench", "history.jsonl")
BASELINE = os.path.join(TOP, "bench", "baseline.json")

# What each metric means and which way is worse. min_effect: the smallest
# relative change flagged as a regression (TCG noise is large; see the
# README for the measured spread these come from).
METRICS = {
    "oneshot.t50_s": ("s", "lower", 0.15, "free 600 MiB: host RSS -50 %"),
    "oneshot.t90_s": ("s", "lower", 0.15, "free 600 MiB: host RSS -90 %"),
    "oneshot.t90_vs_stock": ("x", "lower", 0.15, "t90 / stock t90, same iteration"),
    "oneshot.hinted_mib": ("MiB", "higher", 0.10, "bytes hinted after the free"),
    "oneshot.hint_mib_s": ("MiB/s", "higher", 0.15,
                           "hinted / (last hinted interval - free), guest clock"),
    "oneshot.discard_mib_s": ("MiB/s", "higher", 0.15,
                              "host RSS drop / time to reach it (within 2 %)"),
    "oneshot.drop_mib": ("MiB", "higher", 0.10, "host RSS drop after the free"),
    "churn.footprint_mib": ("MiB", "lower", 0.10, "mean host RSS, churn + 10 s"),
    "churn.hinted_mib": ("MiB", "higher", 0.25, "hinted during churn + tail"),
    "churn.reuse_mib_s": ("MiB/s", "lower", 0.25,
                          "hinted pages allocated again (vmstat reused), per s"),
    "churn.hinted_reused_pct": ("%", "lower", 0.25,
                                "reused / hinted in the window (hinted before count too)"),
    "churn.allocs_per_s": ("1/s", "higher", 0.15, "memhog churn allocations per second"),
    "churn.guest_used_mib": ("MiB", "lower", 0.10,
                             "guest MemTotal - MemFree, mean over the footprint window"),
    "churn.excess_mib": ("MiB", "lower", 0.15,
                         "churn footprint - guest used: host RSS above the ideal"),
    "churn.ram_mib": ("MiB", "lower", 0.10,
                      "mean RSS of the guest RAM mapping (smaps), same window"),
    "churn.ram_excess_mib": ("MiB", "lower", 0.15,
                             "guest RAM RSS - guest used: free memory not handed back"),
    "churn.vmm_own_mib": ("MiB", "lower", 0.15,
                          "host RSS - guest RAM RSS: QEMU's own memory"),
    "compile.footprint_mib": ("MiB", "lower", 0.10,
                              "mean host RSS, compile-like load + 10 s"),
    "compile.guest_used_mib": ("MiB", "lower", 0.10,
                               "guest MemTotal - MemFree, mean over the same window"),
    "compile.excess_mib": ("MiB", "lower", 0.15,
                           "compile footprint - guest used: host RSS above the ideal"),
    "compile.ram_mib": ("MiB", "lower", 0.10,
                        "mean RSS of the guest RAM mapping (smaps), same window"),
    "compile.ram_excess_mib": ("MiB", "lower", 0.15,
                               "guest RAM RSS - guest used: free memory not handed back"),
    "compile.vmm_own_mib": ("MiB", "lower", 0.15,
                            "host RSS - guest RAM RSS: QEMU's own memory"),
    "compile.hinted_mib": ("MiB", "higher", 0.25, "hinted during the load + tail"),
    "compile.reuse_mib_s": ("MiB/s", "lower", 0.25,
                            "hinted pages allocated again (vmstat reused), per s"),
    "compile.procs": ("procs", "higher", 0.15, "compile jobs run in the minute"),
    "oneshot.t90_vs_floor": ("x", "lower", 0.15,
                             "t90 / the host's own madvise(DONTNEED) of the same bytes"),
    "frag.hinted_mib": ("MiB", "higher", 0.15, "hinted after the fragmented free"),
    "frag.hint_pct": ("%", "higher", 0.15, "hinted / freed by the fragmented free"),
    "frag.drop_mib": ("MiB", "higher", 0.15, "host RSS drop after the fragmented free"),
    "frag.freed_mib": ("MiB", "higher", 0.05, "freed by the fragmented free"),
    "run.lock_p99_us": ("us", "lower", 0.50,
                        "zone lock hold p99 (fill and drain events, log2 bucket)"),
    "run.max_lock_p99_us": ("us", "lower", 0.50,
                            "longest zone lock hold of a pass, p99 (pass.max_lock_ns)"),
    "run.pass_p99_ms": ("ms", "lower", 0.50, "pass duration p99 (log2 bucket)"),
    "run.bpf_ns_per_event": ("ns", "lower", 0.30, "hintstat BPF run time per event"),
    "run.boot_s": ("s", "lower", 0.30, "guest boot to userspace"),
    "run.wall_s": ("s", "lower", 0.30, "wall time of the boot"),
    "pagefault.faults_per_s": ("1/s", "higher", 0.05, "page_fault1-style throughput"),
    "pagefault.vs_off": ("x", "higher", 0.05, "faults/s / hinting off, same iteration"),
    "pagefault.icount_faults_per_s": ("1/vs", "higher", 0.01,
                                      "page_fault1 under -icount: faults per virtual s"),
    "pagefault.icount_vs_base": ("x", "higher", 0.01,
                                 "icount faults/s / the config it adds one thing to "
                                 "(off: pristine, on: off, others: on), same iteration"),
    "density.guests": ("guests", "higher", 0.20, "guests that fit the budget"),
}


def madvise_floor_s(mib):
    """The host's own time to discard MIB of resident anonymous memory
    with madvise(MADV_DONTNEED), as QEMU discards a reported range (RAM
    advised MADV_HUGEPAGE, as QEMU advises guest RAM): the floor under
    any time to reclaim."""
    import mmap
    n = mib << 20
    m = mmap.mmap(-1, n, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
    try:
        if hasattr(mmap, "MADV_HUGEPAGE"):
            m.madvise(mmap.MADV_HUGEPAGE)
        for off in range(0, n, mmap.PAGESIZE):
            m[off] = 1
        t = time.perf_counter()
        m.madvise(mmap.MADV_DONTNEED)
        return time.perf_counter() - t
    finally:
        m.close()


def metric_info(key):
    unit, better, min_effect, desc = METRICS.get(key, ("", "lower", 0.10, key))
    return {"unit": unit, "better": better, "min_effect": min_effect, "desc": desc}


def mean_sd(vals):
    m = statistics.fmean(vals)
    return m, (statistics.stdev(vals) if len(vals) > 1 else 0.0)


def _betacf(a, b, x):
    # Continued fraction of the regularized incomplete beta (Numerical Recipes).
    qab, qap, qam = a + b, a + 1, a - 1
    c, d = 1.0, 1 - qab * x / qap
    d = 1 / (d if abs(d) > 1e-300 else 1e-300)
    h = d
    for m in range(1, 300):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1 + aa * d
        d = 1 / (d if abs(d) > 1e-300 else 1e-300)
        c = 1 + aa / c if abs(1 + aa / c) > 1e-300 else 1e-300
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1 + aa * d
        d = 1 / (d if abs(d) > 1e-300 else 1e-300)
        c = 1 + aa / c if abs(1 + aa / c) > 1e-300 else 1e-300
        de = d * c
        h *= de
        if abs(de - 1) < 1e-12:
            break
    return h


def betainc(a, b, x):
    """Regularized incomplete beta I_x(a, b)."""
    if x <= 0:
        return 0.0
    if x >= 1:
        return 1.0
    lbt = (math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b)
           + a * math.log(x) + b * math.log(1 - x))
    if x < (a + 1) / (a + b + 2):
        return math.exp(lbt) * _betacf(a, b, x) / a
    return 1 - math.exp(lbt) * _betacf(b, a, 1 - x) / b


def welch(a, b):
    """Welch's t-test: (t, dof, two-sided p). Needs >= 2 values per side."""
    ma, sa = mean_sd(a)
    mb, sb = mean_sd(b)
    va, vb = sa * sa / len(a), sb * sb / len(b)
    if va + vb == 0:
        return (0.0 if ma == mb else math.copysign(math.inf, mb - ma),
                len(a) + len(b) - 2, 1.0 if ma == mb else 0.0)
    t = (mb - ma) / math.sqrt(va + vb)
    dof = (va + vb) ** 2 / ((va * va / (len(a) - 1) if len(a) > 1 else 0)
                            + (vb * vb / (len(b) - 1) if len(b) > 1 else 0))
    p = betainc(dof / 2, 0.5, dof / (dof + t * t))
    return t, dof, p


# The configurations: kernel and policy (bench-hint's tunables).
CONFIGS = {
    "stock": ("stock", {}),
    "mainline": ("default", {}),
    "d100": ("default", {"DELAY_MS": 100}),
    "cap8": ("default", {"CAPACITY": 8}),
    "o5": ("default", {"ORDER": 5}),
    # patch 9's policy: 100 ms .. page_reporting_delay_ms (2000), by reuse
    "adaptive": ("default", {"ADAPTIVE": 1}),
    # patch 10: the adaptive policy backs off by a reserve, delay 100 ms
    "reserve": ("default", {"ADAPTIVE": 1, "ADAPTIVE_RESERVE": 1}),
}
# What a bench run measures: samples per config, configs, phases.
PROFILES = {
    "full": {"samples": 5, "configs": list(CONFIGS),
             "phases": "oneshot churn frag compile",
             "pagefault": ["pristine", "off", "on", "events", "hintstat", "host"],
             "pf_icount": 0, "density": True, "env": {}},
    "ci": {"samples": 3, "configs": ["stock", "mainline"], "phases": "oneshot",
           "pagefault": [], "density": False, "env": {}},
}

MIN_SAMPLES = 3
ALPHA = 0.05


def judge(base, head, key, min_effect=None, alpha=ALPHA):
    """Compare two sample lists of one metric.

    A change is flagged only with >= MIN_SAMPLES per side, Welch's test
    significant at alpha AND the ranges not overlapping, and a relative
    change of the medians above the metric's minimum effect. Direction
    aware: 'regression' when it moved the worse way, 'improvement' else.
    """
    info = metric_info(key)
    me = info["min_effect"] if min_effect is None else min_effect
    base = [v for v in base if v is not None]
    head = [v for v in head if v is not None]
    r = {"n_base": len(base), "n_head": len(head), "status": "n/a",
         "change": None, "p": None, "min_effect": me}
    if not base or not head:
        return r
    mb, mh = statistics.median(base), statistics.median(head)
    if mb:
        r["change"] = (mh - mb) / abs(mb)
    r["status"] = "same"
    if len(base) < MIN_SAMPLES or len(head) < MIN_SAMPLES:
        r["status"] = "few samples"
        return r
    r["p"] = welch(base, head)[2]
    overlap = not (max(base) < min(head) or max(head) < min(base))
    big = r["change"] is not None and abs(r["change"]) > me
    if r["p"] < alpha and not overlap and big:
        worse = (mh > mb) if info["better"] == "lower" else (mh < mb)
        r["status"] = "regression" if worse else "improvement"
    return r


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def cpu_times():
    """(steal, total) jiffies of the host's /proc/stat cpu line."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return v[7] if len(v) > 7 else 0, sum(v[:8])


def load_history(path=HISTORY):
    runs = []
    if os.path.exists(path):
        with open(path) as f:
            for n, line in enumerate(f, 1):
                if line.strip():
                    try:
                        runs.append(json.loads(line))
                    except ValueError as e:
                        raise SystemExit(f"{path}:{n}: not JSON ({e})")
    return runs


def append_history(doc, path=HISTORY):
    """One line per run: metadata and the samples, not the raw runs."""
    keep = {k: doc[k] for k in ("commit", "time", "profile", "accel", "cpu",
                                "nproc", "host", "steal_pct", "kernels",
                                "configs", "samples") if k in doc}
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "a") as f:
        f.write(json.dumps(keep, sort_keys=True) + "\n")


class Progress:
    """Where a long bench is: step N of M, what it runs, an estimate of
    the time left (the mean step so far times the steps left). On a
    terminal, one line redrawn in place; elsewhere (CI logs) a plain line
    per step. log() prints a line without breaking the redrawn one."""

    def __init__(self, total, stream=None, clock=time.monotonic):
        self.total, self.done = total, 0
        self.stream = stream or sys.stderr
        self.clock = clock
        self.t0 = clock()
        self.tty = self.stream.isatty()
        self.line = ""

    @staticmethod
    def _dur(s):
        s = int(round(s))
        return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else \
            f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"

    def step(self, what):
        """Step done+1 of total begins: what it runs."""
        elapsed = self.clock() - self.t0
        left = (f"about {self._dur(elapsed / self.done * (self.total - self.done))} left"
                if self.done else "time left not known yet")
        self.done += 1
        self.line = f"bench: step {self.done}/{self.total}: {what}, {left}"
        self._show()

    def _show(self):
        if self.tty:
            self.stream.write("\r\x1b[K" + self.line)
        else:
            self.stream.write(self.line + "\n")
        self.stream.flush()

    def log(self, msg):
        if self.tty and self.line:
            self.stream.write("\r\x1b[K" + msg + "\n")
            self._show()
        else:
            self.stream.write(msg + "\n")
            self.stream.flush()

    def close(self):
        if self.tty and self.line:
            self.stream.write("\n")
            self.stream.flush()
        self.line = ""
