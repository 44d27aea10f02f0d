#!/usr/bin/python3
"""Compare bench results: two commits of the history, or a run against
the recorded baseline (CI), in an LKP/mmtests-style table.

A change is flagged only with >= 3 samples per side, Welch's t-test
significant (p < 0.05) and ranges that do not overlap, and a change of
the medians above the metric's minimum effect; direction aware
(throughput lower is worse, latency higher is worse).

  bench/compare.py BASE HEAD [--history FILE]    commits (prefixes) or
                                                 results JSON files
  bench/compare.py --check RESULTS [--baseline FILE]
                       exit 1 if a tracked metric regressed, or if the
                       run cannot be judged (missing or None samples, a
                       skipped config, fewer samples than its profile
                       asks, a baseline of another profile/accel/CPU)
  bench/compare.py --make-baseline RESULTS [--baseline FILE] [--metrics a,b]
                   [--configs stock,mainline]
                       add (or replace) the baseline of the run's kind

The baseline file holds one baseline per kind of run (profile, accel,
CPU model): machines of one kind do not all have the same CPU, and a
run is judged only against its own kind's.
"""
import argparse
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import (BASELINE, HISTORY, METRICS, PROFILES, judge,  # noqa: E402
                      load_history, mean_sd, metric_info)

# What CI tracks: robust to the machine's load (times that are mostly
# the reporting delay, ratios within one iteration).
TRACKED = ["oneshot.t50_s", "oneshot.t90_s", "oneshot.t90_vs_stock",
           "oneshot.hinted_mib", "oneshot.discard_mib_s", "oneshot.drop_mib"]
FLAGS = {"regression": "REGRESSION", "improvement": "improved",
         "same": "", "few samples": "(n<3)", "n/a": ""}


def order(keys):
    known = list(METRICS)
    return sorted(keys, key=lambda k: (known.index(k) if k in known else 999, k))


def fmt_v(v):
    if v is None:
        return "-"
    a = abs(v)
    return f"{v:.0f}" if a >= 1000 else f"{v:.1f}" if a >= 10 else f"{v:.3g}"


def spread(vals):
    """median [min..max] of the values that were measured, else '-'."""
    v = [x for x in vals or [] if x is not None]
    if not v:
        return "-"
    return f"{fmt_v(statistics.median(v))} [{fmt_v(min(v))}..{fmt_v(max(v))}]"


def cell(vals):
    vals = [v for v in vals if v is not None]
    if not vals:
        return "-"
    m, sd = mean_sd(vals)
    med = statistics.median(vals)
    pct = f"±{100 * sd / abs(m):.0f}%" if m else ""
    return f"{fmt_v(med)} {pct}".strip()


def pooled(runs):
    """Samples of several runs pooled per (metric, config)."""
    acc = {}
    for r in runs:
        for key, per in r.get("samples", {}).items():
            for cfg, vals in per.items():
                acc.setdefault(key, {}).setdefault(cfg, []).extend(
                    v for v in vals if v is not None)
    return acc


def compare(base, head, keys=None, tolerances=None):
    """Rows of (key, cfg, base samples, head samples, judgement)."""
    rows = []
    for key in order(keys or set(base) | set(head)):
        for cfg in sorted(set(base.get(key, {})) | set(head.get(key, {}))):
            b, h = base.get(key, {}).get(cfg, []), head.get(key, {}).get(cfg, [])
            me = (tolerances or {}).get(key, {}).get(cfg)
            rows.append((key, cfg, b, h, judge(b, h, key, me)))
    return rows


def table(rows, base_name, head_name):
    w = 16
    out = [f"{base_name:>{w}}  {'':>4}  {'':>9}  {head_name:>{w}}  {'':>4}",
           f"{'-' * w}  {'':>4}  {'':>9}  {'-' * w}  {'':>4}",
           f"{'median ±%sd':>{w}}  {'n':>4}  {'%change':>9}  "
           f"{'median ±%sd':>{w}}  {'n':>4}  metric (config)"]
    for key, cfg, b, h, j in rows:
        ch = f"{100 * j['change']:+.1f}%" if j["change"] is not None else "-"
        info = metric_info(key)
        out.append(f"{cell(b):>{w}}  {len(b):>4}  {ch:>9}  {cell(h):>{w}}  "
                   f"{len(h):>4}  {key} ({cfg}) [{info['unit']}, {info['better']} better] "
                   f"{FLAGS[j['status']]}".rstrip())
    return "\n".join(out)


def table_one(doc):
    """The side-by-side table of one run: median [min..max] per config."""
    s = doc["samples"]
    cfgs = []
    for per in s.values():
        cfgs += [c for c in per if c not in cfgs]
    w = 22
    lines = [f"pagehint bench {doc.get('commit')} ({doc.get('profile')}, "
             f"{doc.get('accel')}, {doc.get('samples_per_config')} samples, "
             f"median [min..max])"]
    for key in order(s):
        per = s[key]
        row = []
        for c in per:
            row.append(f"{c}: {spread(per[c])}")
        lines.append(f"  {key:<{w}} " + "   ".join(row))
    return "\n".join(lines)


def load_side(spec, history):
    if os.path.isfile(spec):
        with open(spec) as f:
            return [json.load(f)], os.path.basename(spec)
    runs = [r for r in history if str(r.get("commit", "")).startswith(spec)]
    if not runs:
        known = sorted({r.get("commit") for r in history})
        raise SystemExit(f"compare: no results for '{spec}' in the history "
                         f"(known: {', '.join(known) or 'none'})")
    return runs, spec


def make_baseline(doc, metrics, configs=None):
    """Baseline samples of the tracked metrics; each tolerance is the
    metric's minimum effect or twice the measured relative spread
    (max - min over the median), whichever is larger."""
    tracked = {}
    for key in metrics:
        for cfg, vals in doc["samples"].get(key, {}).items():
            vals = [v for v in vals if v is not None]
            if len(vals) < 3 or (configs and cfg not in configs):
                continue
            med = statistics.median(vals)
            spread = (max(vals) - min(vals)) / abs(med) if med else 0
            tol = max(metric_info(key)["min_effect"], 2 * spread)
            tracked.setdefault(key, {})[cfg] = {"samples": vals,
                                                "min_effect": round(tol, 3)}
    return {"commit": doc.get("commit"), "time": doc.get("time"),
            "profile": doc.get("profile"), "accel": doc.get("accel"),
            "cpu": doc.get("cpu"), "tracked": tracked}


KIND = ("profile", "accel", "cpu")


def load_baselines(path):
    """The baselines in path: {"baselines": [...]}, or one baseline (the
    file's first format)."""
    with open(path) as f:
        doc = json.load(f)
    return doc["baselines"] if "baselines" in doc else [doc]


def pick(doc, baselines):
    """The baseline of doc's kind, else the one closest to it (the gate
    then says what differs)."""
    return max(baselines, key=lambda b: sum(b.get(k) == doc.get(k) for k in KIND))


def add_baseline(baselines, new):
    """baselines with new in place of the one of its kind."""
    kind = tuple(new.get(k) for k in KIND)
    return [b for b in baselines if tuple(b.get(k) for k in KIND) != kind] + [new]


def gate(doc, baseline):
    """Why a CI run cannot be judged against the baseline, one line each
    (none: it can): a baseline from another profile, accel or CPU model;
    a configuration of the profile not run; fewer samples than the
    profile asks; a tracked series missing, short or holding a None (a
    t90 that never came). Missing data never passes as no regression."""
    why = []
    for k in KIND:
        if doc.get(k) != baseline.get(k):
            why.append(f"baseline {k} {baseline.get(k)!r} is not the run's "
                       f"{doc.get(k)!r}: not like for like (hint: make a "
                       f"baseline from a run of this kind, compare.py "
                       f"--make-baseline)")
    prof = PROFILES.get(doc.get("profile"))
    if prof is None:
        why.append(f"unknown profile {doc.get('profile')!r}")
        want_n, configs = 0, []
    else:
        want_n, configs = prof["samples"], prof["configs"]
    for c in configs:
        if c not in doc.get("configs", {}):
            why.append(f"configuration {c} of profile {doc.get('profile')} "
                       f"was not run (skipped: is its kernel built?)")
    n = doc.get("samples_per_config") or 0
    if n < want_n:
        why.append(f"{n} samples per configuration, profile "
                   f"{doc.get('profile')} asks {want_n}")
    want_n = max(want_n, n)
    for key, per in sorted(baseline.get("tracked", {}).items()):
        for cfg in sorted(per):
            vals = doc.get("samples", {}).get(key, {}).get(cfg)
            if not vals:
                why.append(f"{key} ({cfg}): no samples")
            elif None in vals:
                why.append(f"{key} ({cfg}): {vals.count(None)} of {len(vals)} "
                           f"samples missing (None)")
            elif len(vals) < want_n:
                why.append(f"{key} ({cfg}): {len(vals)} samples, {want_n} wanted")
    if not baseline.get("tracked"):
        why.append("the baseline tracks nothing")
    return why


def check(doc, baseline):
    base = {k: {c: v["samples"] for c, v in per.items()}
            for k, per in baseline["tracked"].items()}
    tol = {k: {c: v["min_effect"] for c, v in per.items()}
           for k, per in baseline["tracked"].items()}
    head = {k: {c: v for c, v in doc["samples"].get(k, {}).items() if c in base[k]}
            for k in base}
    rows = compare(base, head, list(base), tol)
    return rows, [r for r in rows if r[4]["status"] == "regression"]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("base", nargs="?")
    ap.add_argument("head", nargs="?")
    ap.add_argument("--history", default=HISTORY)
    ap.add_argument("--check", metavar="RESULTS")
    ap.add_argument("--make-baseline", metavar="RESULTS")
    ap.add_argument("--baseline", default=BASELINE)
    ap.add_argument("--metrics", default=",".join(TRACKED))
    ap.add_argument("--configs", default="stock,mainline",
                    help="configurations the baseline tracks (the CI profile's)")
    a = ap.parse_args()
    if a.make_baseline:
        with open(a.make_baseline) as f:
            b = make_baseline(json.load(f), a.metrics.split(","),
                              a.configs.split(",") if a.configs else None)
        old = load_baselines(a.baseline) if os.path.exists(a.baseline) else []
        all_ = add_baseline(old, b)
        with open(a.baseline, "w") as f:
            json.dump({"baselines": all_}, f, indent=1, sort_keys=True)
        print(f"baseline: {a.baseline} ({sum(len(v) for v in b['tracked'].values())} "
              f"tracked series from {b['commit']}, {b['cpu']}; "
              f"{len(all_)} kind(s) in all)")
        return 0
    if a.check:
        with open(a.check) as f:
            doc = json.load(f)
        baseline = pick(doc, load_baselines(a.baseline))
        why = gate(doc, baseline)
        for w in why:
            print(f"bench: cannot judge {a.check}: {w}")
        if why:
            return 1
        rows, bad = check(doc, baseline)
        print(table(rows, f"baseline {baseline.get('commit')}", f"HEAD {doc.get('commit')}"))
        if bad:
            print(f"bench: {len(bad)} tracked metric(s) regressed against "
                  f"{a.baseline}: " + ", ".join(f"{k} ({c})" for k, c, *_ in bad))
            return 1
        print(f"bench: no regression of the {len(rows)} tracked series")
        return 0
    if not (a.base and a.head):
        ap.error("give BASE and HEAD, --check or --make-baseline")
    hist = load_history(a.history) if os.path.exists(a.history) else []
    base, bn = load_side(a.base, hist)
    head, hn = load_side(a.head, hist)
    pb, ph = ({r.get("profile") for r in side} for side in (base, head))
    common = pb & ph
    keys = None
    if common:
        # Like with like: the runs of a profile both sides have.
        base = [r for r in base if r.get("profile") in common]
        head = [r for r in head if r.get("profile") in common]
    else:
        # The run.* metrics depend on what a boot runs (phases, length):
        # across profiles only the per-scenario metrics compare.
        keys = [k for k in set(pooled(base)) & set(pooled(head))
                if not k.startswith("run.")]
        print(f"note: profiles differ ({', '.join(sorted(map(str, pb)))} vs "
              f"{', '.join(sorted(map(str, ph)))}): run.* metrics left out")
    rows = compare(pooled(base), pooled(head), keys)
    print(table(rows, bn, hn))
    n = sum(1 for r in rows if r[4]["status"] == "regression")
    print(f"{n} regression(s), "
          f"{sum(1 for r in rows if r[4]['status'] == 'improvement')} improvement(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
