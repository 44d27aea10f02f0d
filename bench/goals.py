#!/usr/bin/python3
"""One bench results file as README tables: every metric per
configuration, median [min..max], and issue 14's goals, each judged on
the medians of that one run (met, not met, or not measured).

  bench/goals.py [RESULTS]    (default: build/bench/latest-full.json)
"""
import json
import os
import statistics
import sys

from benchlib import BUILD
from compare import fmt_v, order, spread

# (goal, metric, the configuration it is held against, factor): a policy
# meets it when its median is at most factor x the reference's median.
POLICY_GOALS = [
    ("one-shot t90 at most `d100`'s", "oneshot.t90_s", "d100", 1.0),
    ("churn reuse at most mainline's", "churn.reuse_mib_s", "mainline", 1.0),
    ("churn footprint at most `d100`'s", "churn.footprint_mib", "d100", 1.0),
    ("compile footprint 17 % below mainline's", "compile.footprint_mib",
     "mainline", 0.83),
]
POLICIES = ("adaptive", "reserve")
# (goal, page_fault1 configuration, lowest paired ratio under -icount to
# the configuration it adds one thing to: bench.py's pf_icount)
OVERHEAD_GOALS = [
    ("the series, no device: cost <= 0.5 %", "off", 0.995),
    ("+ device, events off: cost <= 1 %", "on", 0.99),
    ("+ hintstat attached: cost <= 2 %", "hintstat", 0.98),
]


def median(doc, key, cfg):
    v = [x for x in doc["samples"].get(key, {}).get(cfg, []) if x is not None]
    return statistics.median(v) if v else None


def family(key):
    """Metrics of one family share their configurations: page_fault1's,
    density's (hint, no-hint), and the hint scenarios'."""
    first = key.split(".")[0]
    return first if first in ("pagefault", "density") else "hint"


def metrics_table(doc):
    """Markdown: per family a table, one row per metric, one column per
    configuration."""
    s = doc["samples"]
    out = []
    for fam in ("hint", "pagefault", "density"):
        keys = [k for k in order(s) if family(k) == fam]
        cfgs = []
        for k in keys:
            cfgs += [c for c in s[k] if c not in cfgs]
        if not keys:
            continue
        out += ["" if out else None,
                "| metric | " + " | ".join(cfgs) + " |",
                "|---" * (len(cfgs) + 1) + "|"]
        out += [f"| `{k}` | " + " | ".join(
            spread(s[k].get(c)) if c in s[k] else "" for c in cfgs) + " |"
            for k in keys]
    return "\n".join(x for x in out if x is not None)


def bounds_table(doc):
    """Markdown: each physical bound measured in the run."""
    b = doc.get("bounds") or {}
    out = ["| metric | bound | median [min..max] |", "|---|---|---|"]
    out += [f"| `{k}` | {name} | {spread(v)} |"
            for k in order(b) for name, v in sorted(b[k].items())]
    return "\n".join(out)


def judge_policy(doc, key, ref, factor, policy):
    """(verdict, text) of one policy goal on the medians of one run."""
    p, r = median(doc, key, policy), median(doc, key, ref)
    if p is None or r is None:
        return "not measured", "-"
    ch = f"{100 * (p / r - 1):+.1f} %" if r else "-"
    verdict = "met" if p <= factor * r else "not met"
    return verdict, f"{fmt_v(p)} vs {fmt_v(r)} ({ch})"


def judge_overhead(doc, cfg, lowest):
    v = [x for x in doc["samples"].get("pagefault.icount_vs_base", {})
         .get(cfg, []) if x is not None]
    if not v:
        return "not measured", "-"
    m = statistics.median(v)
    return ("met" if m >= lowest else "not met",
            f"x{m:.4f} [{min(v):.4f}..{max(v):.4f}]")


def goals_table(doc):
    pols = [p for p in POLICIES if p in doc.get("configs", {})]
    out = ["| goal | " + " | ".join(pols) + " |",
           "|---" * (len(pols) + 1) + "|"]
    for text, key, ref, factor in POLICY_GOALS:
        cells = [judge_policy(doc, key, ref, factor, p) for p in pols]
        out.append(f"| {text} | " + " | ".join(
            f"**{v}**: {t}" if v == "met" else f"{v}: {t}"
            for v, t in cells) + " |")
    out.append("")
    out.append("| overhead goal (page_fault1 under -icount, paired ratio) | |")
    out.append("|---|---|")
    for text, cfg, lowest in OVERHEAD_GOALS:
        v, t = judge_overhead(doc, cfg, lowest)
        out.append(f"| {text} | " + (f"**{v}**: {t}" if v == "met"
                                      else f"{v}: {t}") + " |")
    return "\n".join(out)


def header(doc):
    # The phases too: --phases and --configs narrow a profile's run, and
    # a "full" profile's name alone would claim every phase.
    return (f"commit {doc.get('commit')}, profile {doc.get('profile')}, "
            f"phases {doc.get('phases')}, "
            f"{doc.get('samples_per_config')} samples per configuration, "
            f"{doc.get('accel')}, {doc.get('cpu')}, {doc.get('nproc')} CPUs, "
            f"host steal {doc.get('steal_pct')} %, "
            f"{round(doc.get('wall_s') or 0)} s")


def main():
    path = (sys.argv[1] if len(sys.argv) > 1 else
            os.path.join(BUILD, "bench", "latest-full.json"))
    try:
        with open(path) as f:
            doc = json.load(f)
    except (OSError, ValueError) as e:
        print(f"goals: {path}: {e}\nhint: give a results file of "
              "bench/bench.py (make bench writes build/bench/latest-full.json)",
              file=sys.stderr)
        return 1
    if not isinstance(doc, dict) or "samples" not in doc:
        print(f"goals: {path}: not a bench results file (no samples)\n"
              "hint: give build/bench/results-*.json", file=sys.stderr)
        return 1
    print(header(doc), metrics_table(doc), bounds_table(doc), goals_table(doc),
          sep="\n\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
