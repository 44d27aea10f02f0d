#!/usr/bin/python3
"""pagehint bench harness: hint throughput, time-to-reclaim, footprint,
overhead and density, on the pagehint kernel and on Debian's unmodified
6.12 kernel in the same run, with repeated samples.

Hint scenarios (guest/scenarios/bench-hint.sh, one boot per sample, with
hintstat attached): one-shot free of 600 MiB in a 1 GiB guest, steady
churn, fragmented free. Configurations, interleaved (sample i of every
configuration runs before sample i+1 of any):
  stock      Debian's 6.12 kernel (mainline policy, no tunables)
  mainline   pagehint kernel, mainline policy (delay 2000 ms, capacity 32,
             order 9)
  d100 cap8 o5         pagehint kernel, one parameter changed each
Allocation workload (page_fault1 style, bench/pagefault.py's configs):
hinting off (no balloon), on, on with hintstat attached, and the pristine
tree when built. Density: 1 GiB guests that touch and free 800 MiB,
started one after another in a cgroup with a memory limit, with and
without free page reporting.

Profiles: full (make bench) and ci (make bench-ci: stock and mainline,
one-shot only, 3 samples, then checked against bench/baseline.json).

  bench/bench.py [--profile full|ci] [-n N] [--configs a,b] [--phases ...]
                 [--no-pagefault] [--no-density] [--skip-missing]
                 [-o FILE] [--history FILE] [--no-history]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from benchlib import (BUILD, CONFIGS, HISTORY, PROFILES, TOP, Progress,
                      append_history, cpu_model, cpu_times, kernel,
                      madvise_floor_s, meta, pagehint_vm)

PF_CONFIGS = {  # ours: bench/pagefault.py's
    "pristine": "pristine", "off": "patched", "on": "patched-balloon",
    "events": "patched-events", "hintstat": "patched-hintstat",
    "host": "patched-host",
}
MIB = 600
GUEST_MIB = 1024
HIST_KEYS = ("pass_ns", "react_ns", "fill_lock_ns", "drain_lock_ns",
             "pass_max_lock_ns")


# The running bench's progress line, if any: log() keeps it in place.
progress = None


def log(*a):
    if progress:
        progress.log(" ".join(str(x) for x in a))
    else:
        print(*a, file=sys.stderr, flush=True)


# ---- parsing one hint run ---------------------------------------------------

def read(outdir, name):
    with open(os.path.join(outdir, name), errors="replace") as f:
        return f.read()


def jsonl(text):
    return [json.loads(l) for l in text.splitlines() if l.strip().startswith("{")]


def phase_ns(lines, phase):
    return next((x["t_ns"] / 1e9 for x in lines if x.get("phase") == phase), None)


def rss_at(rss, t):
    before = [k for s, k in rss if s <= t]
    return before[-1] if before else None


def hist_merge(*hists):
    """Sum bpftrace-shaped histograms ({min, max, count} lists)."""
    acc = {}
    for h in hists:
        for b in h or []:
            k = (b["min"], b["max"])
            acc[k] = acc.get(k, 0) + b["count"]
    return [{"min": k[0], "max": k[1], "count": c} for k, c in sorted(acc.items())]


def hist_pct(h, q):
    """Upper bound of the bucket holding the nearest-rank q-quantile."""
    n = sum(b["count"] for b in h)
    if not n:
        return None
    rank, seen = max(1, -(-int(q * n * 1000) // 1000)), 0
    for b in h:
        seen += b["count"]
        if seen >= rank:
            return b["max"]
    return h[-1]["max"]


def vmstat(text):
    return {k: int(v) for k, v in (l.split() for l in text.splitlines() if l.strip())}


def window_bytes(intervals, t0, t1):
    """Hinted bytes of the intervals that ended in (t0, t1] (guest clock),
    and the end of the last one that hinted anything."""
    tot, last = 0, None
    for x in intervals:
        if t0 < x["ts"] <= t1:
            tot += x["bytes"]
            if x["bytes"]:
                last = x["ts"]
    return tot, last


def used_mean_mib(out, phase, t0, t1):
    """Mean of the guest's own used memory (memused.<phase>: /proc/uptime
    and MemTotal - MemFree) over [t0, t1] of the guest's clock. uptime is
    CLOCK_BOOTTIME, memhog's t_ns CLOCK_MONOTONIC: equal in a guest that
    never suspends."""
    path = os.path.join(out, f"memused.{phase}")
    if not os.path.exists(path):
        return None
    rows = [l.split() for l in read(out, f"memused.{phase}").splitlines()]
    v = [int(r[1]) for r in rows if len(r) >= 2 and t0 <= float(r[0]) <= t1]
    return statistics.fmean(v) / 1024 if v else None


def window_mean_mib(samples, w0, w1):
    """Mean of the (t, KiB) samples in [w0, w1], MiB; None without any."""
    win = [k for s, k in samples if w0 <= s <= w1]
    return statistics.fmean(win) / 1024 if win else None


def diff(a, b):
    return a - b if a is not None and b is not None else None


def footprint(r, phase, ph_lines, tail):
    """{footprint_mib, guest_used_mib, excess_mib, ram_mib, ram_excess_mib,
    vmm_own_mib} of a phase and its tail: QEMU's mean RSS, the guest's own
    used memory over the same window (its ideal), and the split of the
    excess: the guest RAM's resident pages above what the guest uses
    (free memory not handed back: what reporting controls) and QEMU's own
    memory (RSS outside the guest RAM mapping: no policy touches it)."""
    m = r["markers"]
    w0, w1 = m[f"{phase}-start"], m[f"{phase}-end"] + tail
    host = window_mean_mib(r["rss"], w0, w1)
    ram = window_mean_mib(r.get("ram_rss", []), w0, w1)
    used = used_mean_mib(r["outdir"], phase, phase_ns(ph_lines, phase),
                         phase_ns(ph_lines, "freed") + tail)
    return {"footprint_mib": host, "guest_used_mib": used,
            "excess_mib": diff(host, used), "ram_mib": ram,
            "ram_excess_mib": diff(ram, used), "vmm_own_mib": diff(host, ram)}


def window_vmstat(out, phase, key):
    v0, v1 = (vmstat(read(out, f"vmstat.{phase}.{i}")) for i in (0, 1))
    return v1[key] - v0.get(key, 0) if key in v1 else None


def parse_hint_run(r, freed_mib=MIB):
    """Metrics of one bench-hint boot from the runner's result dict."""
    out, m, rss = r["outdir"], r["markers"], r["rss"]
    hs = [x for x in jsonl(read(out, "hintstat.json")) if "interval_s" in x]
    res, MiB = {}, 1 << 20
    end = hs[-1]["ts"] + 1 if hs else 0
    if "freed.1" in m:  # one-shot
        t = pagehint_vm.reclaim_times(rss, m["freed.1"], freed_mib * 1024)
        ph = jsonl(read(out, "memhog-oneshot.json"))
        tf = phase_ns(ph, "freed")
        nxt = [phase_ns(jsonl(read(out, f)), p) for f, p in
               (("memhog-churn.json", "churn"), ("memhog-frag.json", "frag-alloc"))
               if os.path.exists(os.path.join(out, f))]
        tend = min([x for x in nxt if x] or [end])
        hinted, last = window_bytes(hs, tf, tend)
        r0 = rss_at(rss, m["freed.1"])
        r1 = rss_at(rss, m["quiet-oneshot"])
        drop = r0 - r1
        # Discard throughput: the drop, over the time to get within 2 %
        # of it.
        t_done = next((s - m["freed.1"] for s, k in rss
                       if s > m["freed.1"] and k <= r1 + 0.02 * drop), None)
        res.update({
            "oneshot.t50_s": t[0.5], "oneshot.t90_s": t[0.9],
            "oneshot.hinted_mib": hinted / MiB,
            "oneshot.hint_mib_s": hinted / MiB / (last - tf) if last else None,
            "oneshot.discard_mib_s": drop / 1024 / t_done if t_done else None,
            "oneshot.drop_mib": drop / 1024,
        })
    if "churn-start" in m:
        ph = jsonl(read(out, "memhog-churn.json"))
        tail = float(r["env"].get("CHURN_TAIL", 10))
        t0, t1 = phase_ns(ph, "churn"), phase_ns(ph, "freed")
        hinted, _ = window_bytes(hs, t0, t1 + tail)
        rep = window_vmstat(out, "churn", "page_hinting_reported")
        reu = window_vmstat(out, "churn", "page_hinting_reused")
        stats = [x for x in ph if "churn_allocs" in x][0]
        res.update({f"churn.{k}": v for k, v in footprint(r, "churn", ph, tail).items()})
        res.update({
            "churn.hinted_mib": hinted / MiB,
            # Hinted pages allocated again (each one a refault on the
            # host), per second of churn and tail.
            "churn.reuse_mib_s": (reu * 4096 / MiB / (t1 - t0 + tail)
                                  if reu is not None else None),
            "churn.hinted_reused_pct": 100 * reu / rep if reu is not None and rep else None,
            "churn.allocs_per_s": stats["churn_allocs"] / (t1 - t0),
        })
    if "frag-freed.1" in m:
        ph = jsonl(read(out, "memhog-frag.json"))
        st = [x for x in ph if "frag_order0_bytes" in x][0]
        freed = st["frag_order0_bytes"] + st["frag_high_bytes"]
        hinted, _ = window_bytes(hs, phase_ns(ph, "frag-freed"), phase_ns(ph, "frag-rest"))
        drop = rss_at(rss, m["frag-freed.1"]) - rss_at(rss, m["frag-rest.1"])
        res.update({"frag.hinted_mib": hinted / MiB,
                    "frag.hint_pct": 100 * hinted / freed,
                    "frag.drop_mib": drop / 1024,
                    "frag.freed_mib": freed / MiB})
    if "compile-start" in m:
        ph = jsonl(read(out, "memhog-compile.json"))
        tail = float(r["env"].get("COMPILE_TAIL", 10))
        res.update({f"compile.{k}": v
                    for k, v in footprint(r, "compile", ph, tail).items()})
        t0, t1 = phase_ns(ph, "compile"), phase_ns(ph, "freed")
        hinted, _ = window_bytes(hs, t0, t1 + tail)
        reu = window_vmstat(out, "compile", "page_hinting_reused")
        st = [x for x in ph if "compile_procs" in x][0]
        res.update({
            "compile.hinted_mib": hinted / MiB,
            "compile.reuse_mib_s": (reu * 4096 / MiB / (t1 - t0 + tail)
                                    if reu is not None else None),
            "compile.procs": st["compile_procs"],
        })
    hist = {k: hist_merge(*(x["hist"].get(k) for x in hs)) for k in HIST_KEYS}
    lock = hist_merge(hist["fill_lock_ns"], hist["drain_lock_ns"])
    p = hist_pct(lock, 0.99)
    res["run.lock_p99_us"] = p / 1000 if p is not None else None
    # The longest interrupts-off stretch of each pass: the figure that
    # bounds what reporting adds to interrupt latency.
    p = hist_pct(hist["pass_max_lock_ns"], 0.99)
    res["run.max_lock_p99_us"] = p / 1000 if p is not None else None
    p = hist_pct(hist["pass_ns"], 0.99)
    res["run.pass_p99_ms"] = p / 1e6 if p is not None else None
    bs = hs[-1].get("bpf_stats") if hs else None
    cnt = sum(v["run_cnt"] for v in (bs or {}).values())
    res["run.bpf_ns_per_event"] = (sum(v["run_time_ns"] for v in bs.values()) / cnt
                                   if cnt else None)
    mode = hs[0].get("mode") if hs else None
    return res, hist, mode


# ---- running ----------------------------------------------------------------

def hint_sample(name, i, outroot, phases, extra_env):
    flavour, policy = CONFIGS[name]
    k, initrd = kernel(flavour)
    env = {"PHASES": phases, "MIB": MIB, **policy, **extra_env}
    r = pagehint_vm.run(k, initrd, "bench-hint", os.path.join(outroot, f"{name}-{i}"),
                        env=env, mem=GUEST_MIB, timeout=900)
    if not r["ok"]:
        raise SystemExit(f"bench: {name} sample {i}: {r.get('error')}")
    res, hist, mode = parse_hint_run(r)
    res["run.boot_s"] = r["guest_boot_s"]
    res["run.wall_s"] = r["wall_s"]
    return res, hist, mode, r


def pf_icount(i, n, pf, out, shift, add):
    """The page_fault1 configurations again with the guest's clock taken
    from the instructions executed (QEMU -icount): instructions per fault,
    resolvable to tenths of a %, where real time spreads a few %."""
    import pagefault
    fps = {}
    for c in pf:
        progress.step(f"page_fault1 {c} (icount), sample {i + 1} of {n}")
        s = pagefault.sample(PF_CONFIGS[c], i, out + "-icount", 2, 128, 3, icount=shift)
        fps[c] = s["faults_per_s"]
        add("pagefault.icount_faults_per_s", c, fps[c])
        log(f"  pagefault {c:<9} #{i} (icount): {fps[c]:.0f} faults/virtual s")
    for c in pf:
        base = "pristine" if c == "off" else "off" if c == "on" else "on"
        if c != "pristine" and base in fps:
            add("pagefault.icount_vs_base", c, fps[c] / fps[base])


def check_kernels(names, pf, skip_missing):
    """Configs whose kernel exists; a clear error (or a skip) otherwise."""
    keep, keep_pf = [], []
    for n in names:
        k = kernel(CONFIGS[n][0])
        if all(os.path.exists(p) for p in k):
            keep.append(n)
        elif skip_missing:
            log(f"bench: skipping {n}: {k[0]} missing")
        else:
            raise SystemExit(f"bench: {k[0]} or {k[1]} missing for '{n}' "
                             f"(hint: make kernel guest stock, or --skip-missing)")
    for n in pf:
        fl = "pristine" if n == "pristine" else "default"
        k = kernel(fl)[0]
        if os.path.exists(k):
            keep_pf.append(n)
        elif skip_missing:
            log(f"bench: skipping pagefault '{n}': {k} missing "
                f"(hint: scripts/kernel.sh {fl})")
        else:
            raise SystemExit(f"bench: {k} missing for pagefault '{n}' "
                             f"(hint: scripts/kernel.sh {fl}, or --skip-missing)")
    return keep, keep_pf


def run_density(hint, budget_mib, max_guests, outroot, touch_mib=800, settle_s=20):
    """Start 1 GiB guests one after another in a memory cgroup limited to
    budget_mib; each touches and frees touch_mib and stays up. Returns the
    number that ran before the budget was exceeded (an OOM kill in the
    cgroup, a failed guest) and the cgroup's counters."""
    import cgroup_budget
    k, initrd = kernel("default")
    cg = cgroup_budget.Cgroup(f"pagehint-bench-{os.getpid()}", budget_mib << 20)
    procs, fit, why, first = [], 0, None, None
    try:
        for g in range(max_guests):
            out = os.path.join(outroot, f"density-{'hint' if hint else 'nohint'}-{g}")
            share = os.path.join(out, "share")
            cmd = [sys.executable, os.path.join(TOP, "vm", "pagehint_vm.py"),
                   "--kernel", k, "--initrd", initrd, "--scenario", "bench-density",
                   "--mem", str(GUEST_MIB), "--timeout", "900", "--out", out,
                   "--env", f"MIB={touch_mib}", "--env", "HOLD_S=900"]
            if not hint:
                cmd.append("--no-balloon")
            p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, preexec_fn=cg.enter)
            procs.append((p, share))
            freed = os.path.join(share, "out", "freed.1")
            t0 = time.monotonic()
            while not os.path.exists(freed):
                if p.poll() is not None or cg.exceeded():
                    break
                if time.monotonic() - t0 > 600:
                    why = f"guest {g} did not free in 600 s"
                    break
                time.sleep(0.2)
            if not why and not cg.exceeded() and p.poll() is None:
                # Let reporting hand the freed memory back (or not).
                t1 = time.monotonic()
                while time.monotonic() - t1 < settle_s and not cg.exceeded():
                    time.sleep(0.5)
            if why:
                break
            if cg.exceeded() or any(q.poll() is not None for q, _ in procs):
                why = f"budget exceeded while guest {g + 1} ran"
                break
            fit = g + 1
            if fit == 1:
                # One settled guest's cost to the host (QEMU included):
                # the budget over it bounds the count.
                first = cg.usage() >> 20
            log(f"  density {'hint' if hint else 'no hint'}: {fit} guest(s), "
                f"cgroup {cg.usage() >> 20} MiB of {budget_mib}")
        stats = cg.stats()
    finally:
        for p, share in procs:
            try:
                open(os.path.join(share, "stop"), "w").close()
            except OSError:
                pass
        for p, _ in procs:
            try:
                p.wait(60)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        cg.remove()
    return {"guests": fit, "stopped": why or f"max {max_guests} guests reached",
            "first_settled_mib": first, **stats}


def density_sample(doc, add, bound, label, hint, a, outroot, i):
    """One density run into doc["density"][label] (the latest run, and
    every run's count); a count capped by --max-guests is flagged: the
    budget did not decide it."""
    try:
        d = run_density(hint, a.budget_mib, a.max_guests,
                        os.path.join(outroot, f"density{i}"))
    except (OSError, SystemExit) as e:
        # The hint results are worth keeping without density.
        log(f"bench: density {label} failed: {e}")
        doc["density"].setdefault(label, {"error": str(e)})
        return
    d["capped"] = d["stopped"].startswith("max ")
    d["guests_samples"] = (doc["density"].get(label, {})
                           .get("guests_samples", []) + [d["guests"]])
    doc["density"][label] = d
    add("density.guests", label, d["guests"])
    if d.get("first_settled_mib"):
        bound("density.guests", f"budget / one settled guest ({label})",
              a.budget_mib / d["first_settled_mib"])
    log(f"  density {label} #{i}: {d['guests']} guests ({d['stopped']})")
    if d["capped"]:
        log(f"bench: density {label}: all {a.max_guests} guests fit in "
            f"{a.budget_mib} MiB: the count is capped (hint: --max-guests)")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", choices=PROFILES, default="full")
    ap.add_argument("-n", "--samples", type=int)
    ap.add_argument("--configs")
    ap.add_argument("--phases")
    ap.add_argument("--pagefault", help="pagefault configs (pristine,off,on,hintstat)")
    ap.add_argument("--no-pagefault", action="store_true")
    ap.add_argument("--pf-icount", type=int, metavar="SHIFT",
                    help="also run page_fault1 under QEMU -icount shift=SHIFT "
                    "(default: the profile's)")
    ap.add_argument("--no-density", action="store_true")
    ap.add_argument("--budget-mib", type=int, default=2048)
    # High enough that the budget, not this cap, ends a density run.
    ap.add_argument("--max-guests", type=int, default=32)
    ap.add_argument("--density-samples", type=int, default=3)
    ap.add_argument("--skip-missing", action="store_true",
                    help="skip configurations whose kernel is not built")
    ap.add_argument("--env", action="append", default=[], metavar="KEY=VALUE",
                    help="extra bench-hint parameters (e.g. CHURN_S=10)")
    ap.add_argument("-o", "--output")
    ap.add_argument("--history", default=HISTORY)
    ap.add_argument("--no-history", action="store_true")
    a = ap.parse_args()
    prof = PROFILES[a.profile]
    n = prof["samples"] if a.samples is None else a.samples
    if n < 1 or a.density_samples < 0:
        ap.error("-n needs at least 1 sample, --density-samples at least 0")
    names = (a.configs or ",".join(prof["configs"])).split(",")
    for c in names:
        if c not in CONFIGS:
            ap.error(f"unknown config '{c}' (known: {', '.join(CONFIGS)})")
    pf = [] if a.no_pagefault else (a.pagefault.split(",") if a.pagefault
                                    else prof["pagefault"])
    for c in pf:
        if c not in PF_CONFIGS:
            ap.error(f"unknown pagefault config '{c}' (known: {', '.join(PF_CONFIGS)})")
    phases = a.phases or prof["phases"]
    if a.pf_icount is None:
        a.pf_icount = prof.get("pf_icount")
    extra = dict(prof["env"], **pagehint_vm.parse_env(a.env))
    # The ci profile skips nothing by itself: its gate needs every config.
    names, pf = check_kernels(names, pf, a.skip_missing)
    if not names:
        raise SystemExit("bench: no configuration left to run")

    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    doc = meta("pagehint")
    doc.update({"profile": a.profile, "cpu": cpu_model(), "phases": phases,
                "pf_icount": a.pf_icount,
                "guest_mib": GUEST_MIB, "freed_mib": MIB, "env": extra,
                "configs": {c: {"kernel": CONFIGS[c][0],
                                "policy": CONFIGS[c][1]} for c in names},
                "samples": {}, "hist": {}, "kernels": {}, "modes": {}, "bounds": {}})
    outroot = os.path.join(BUILD, "bench", "runs", stamp)
    steal0, tot0 = cpu_times()
    t_start = time.monotonic()
    samples = doc["samples"]

    def add(key, cfg, v):
        samples.setdefault(key, {}).setdefault(cfg, []).append(v)

    def bound(key, name, v):
        """A physical limit of a metric, measured in this run."""
        if v is not None:
            doc["bounds"].setdefault(key, {}).setdefault(name, []).append(v)

    global progress
    density = prof["density"] and not a.no_density
    progress = Progress(2 * density * a.density_samples
                        + n * (len(names) + len(pf) * (1 + (a.pf_icount is not None))))

    if density:
        doc["density"] = {}
        for i in range(a.density_samples):
            for hint in (False, True):
                label = "hint" if hint else "no-hint"
                progress.step(f"density, {label}, sample {i + 1} of "
                              f"{a.density_samples}")
                density_sample(doc, add, bound, label, hint, a, outroot, i)
        doc["density"]["budget_mib"] = a.budget_mib
        doc["density"]["max_guests"] = a.max_guests

    output = a.output or os.path.join(BUILD, "bench", f"results-{stamp}.json")
    os.makedirs(os.path.dirname(output), exist_ok=True)
    for i in range(n):
        t90 = {}
        floor = madvise_floor_s(MIB)
        bound("oneshot.t90_s", "host madvise(DONTNEED) of the same bytes", floor)
        for key in ("oneshot.hint_mib_s", "oneshot.discard_mib_s"):
            bound(key, "host madvise(DONTNEED) rate", MIB / floor)
        for c in names:
            progress.step(f"{c}, sample {i + 1} of {n}")
            res, hist, mode, r = hint_sample(c, i, outroot, phases, extra)
            for key, v in res.items():
                add(key, c, v)
            t90[c] = res.get("oneshot.t90_s")
            if t90[c]:
                add("oneshot.t90_vs_floor", c, t90[c] / floor)
            for ph in ("churn", "compile"):
                for key in ("footprint_mib", "ram_mib"):
                    bound(f"{ph}.{key}", "guest used (all configs)",
                          res.get(f"{ph}.guest_used_mib"))
            doc["accel"] = r["accel"]
            doc["kernels"][c] = read(r["outdir"], "uname").strip()
            doc["modes"][c] = mode
            doc["hist"][c] = hist
            log(f"  {c:<9} #{i}: " + ", ".join(
                f"{k.split('.', 1)[1]} {v:.3g}" for k, v in res.items()
                if v is not None and k.split(".")[0] in ("oneshot", "churn", "frag", "compile")))
        for c in names:
            if c != "stock" and t90.get(c) and t90.get("stock"):
                add("oneshot.t90_vs_stock", c, t90[c] / t90["stock"])
        if pf:
            import pagefault
            out = os.path.join(outroot, "pagefault")
            fps = {}
            for c in pf:
                progress.step(f"page_fault1 {c}, sample {i + 1} of {n}")
                s = pagefault.sample(PF_CONFIGS[c], i, out, 5, 128, 3)
                fps[c] = s["faults_per_s"]
                add("pagefault.faults_per_s", c, fps[c])
                log(f"  pagefault {c:<9} #{i}: {fps[c]:.0f} faults/s")
            for c in pf:
                if c != "off" and "off" in fps:
                    add("pagefault.vs_off", c, fps[c] / fps["off"])
            if a.pf_icount is not None:
                pf_icount(i, n, pf, out, a.pf_icount, add)
        # What is done so far survives an interrupted run.
        doc["samples_per_config"] = i + 1
        with open(output + ".partial", "w") as f:
            json.dump(doc, f, indent=1, sort_keys=True)
    progress.close()
    progress = None
    steal1, tot1 = cpu_times()
    doc["steal_pct"] = round(100 * (steal1 - steal0) / max(1, tot1 - tot0), 2)
    doc["wall_s"] = round(time.monotonic() - t_start, 1)
    doc["samples_per_config"] = n

    with open(output, "w") as f:
        json.dump(doc, f, indent=1, sort_keys=True)
    latest = os.path.join(BUILD, "bench", f"latest-{a.profile}.json")
    if os.path.abspath(output) != latest:
        with open(latest, "w") as f:
            json.dump(doc, f, indent=1, sort_keys=True)
    if os.path.exists(output + ".partial"):
        os.unlink(output + ".partial")
    if not a.no_history:
        append_history(doc, a.history)
    import compare
    print(compare.table_one(doc))
    print(f"results: {output} ({doc['wall_s']} s)" +
          ("" if a.no_history else f", appended to {a.history}"))


if __name__ == "__main__":
    main()
