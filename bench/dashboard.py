#!/usr/bin/python3
"""Write the bench dashboard: one static HTML page, no server, no network,
no external script. Every metric over the commits of the history (median
per configuration, the min..max noise band, regression flags against the
previous run of the same configuration, physical bounds measured in the
same runs), the latest run side by side, and the hintstat histograms of
the latest run. Charts are uPlot (bench/jslib.py: pinned from npm,
integrity-checked, inlined at build time), drawn by bench/dashboard.js.

  bench/dashboard.py [--history FILE] [--results FILE] [-o FILE]
"""
import argparse
import glob
import html
import json
import os
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import BUILD, HISTORY, judge, load_history, metric_info  # noqa: E402
import compare  # noqa: E402
import jslib  # noqa: E402

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
          "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"]
HERE = os.path.dirname(os.path.abspath(__file__))
esc = html.escape


def color_map(history, latest):
    cfgs = sorted({c for r in history + ([latest] if latest else [])
                   for per in r.get("samples", {}).values() for c in per}, key=cfg_key)
    return {c: COLORS[i % len(COLORS)] for i, c in enumerate(cfgs)}


def series(history, key):
    """{config: [(run index, median, min, max, n, flag)]} for one metric."""
    out = {}
    prev = {}
    for i, r in enumerate(history):
        for cfg, vals in r.get("samples", {}).get(key, {}).items():
            v = [x for x in vals if x is not None]
            if not v:
                continue
            # Against the previous run of the same kind (profile, accel,
            # CPU model: compare.KIND, what the CI gate matches too): a
            # CI run boots for less than a full one, and a run on another
            # CPU differs by more than any change of the code.
            pk = (cfg,) + tuple(r.get(k) for k in compare.KIND)
            flag = judge(prev[pk], v, key)["status"] if pk in prev else "n/a"
            out.setdefault(cfg, []).append(
                (i, statistics.median(v), min(v), max(v), len(v), flag))
            prev[pk] = v
    return out


def fmt(v):
    return compare.fmt_v(v)


def plot_data(key, history, colors):
    """What one metric's uPlot chart draws (bench/dashboard.js), and its
    regression flags: per configuration the median, min, max, count and
    flag of every run (None where it did not run), and the physical
    bounds measured in the same runs as reference lines."""
    ser = series(history, key)
    if not ser:
        return None, []
    n = len(history)
    out, flags = [], []
    for cfg, pts in ser.items():
        s = {"cfg": cfg, "color": colors[cfg], "med": [None] * n, "min": [None] * n,
             "max": [None] * n, "n": [0] * n, "flag": ["n/a"] * n}
        for i, med, mn, mx, cnt, flag in pts:
            s["med"][i], s["min"][i], s["max"][i], s["n"][i], s["flag"][i] = \
                med, mn, mx, cnt, flag
            if flag in ("regression", "improvement"):
                flags.append((key, cfg, history[i].get("commit"), flag))
        out.append(s)
    bounds = {}
    for i, r in enumerate(history):
        for name, vals in (r.get("bounds") or {}).get(key, {}).items():
            v = [x for x in vals if x is not None]
            if v:
                bounds.setdefault(name, [None] * n)[i] = statistics.median(v)
    info = metric_info(key)
    return ({"metric": key, "unit": info["unit"], "better": info["better"],
             "desc": info["desc"], "series": out,
             "bounds": [{"name": k, "vals": v} for k, v in bounds.items()]}, flags)


def hist_data(name, cfg, h, color):
    if not any(b["count"] for b in h):
        return None
    return {"name": name, "cfg": cfg, "color": color,
            "buckets": [{"min": b["min"], "max": b["max"], "count": b["count"],
                         "label": ns(b["min"])} for b in h]}


def policy_points(doc, colors):
    """Per phase with both metrics: each configuration's median footprint
    and reuse with their ranges."""
    out = []
    for phase in ("churn", "compile"):
        xs = doc["samples"].get(f"{phase}.reuse_mib_s", {})
        ys = doc["samples"].get(f"{phase}.footprint_mib", {})
        pts = []
        for cfg in sorted(set(xs) & set(ys), key=cfg_key):
            x = [v for v in xs[cfg] if v is not None]
            y = [v for v in ys[cfg] if v is not None]
            if x and y:
                pts.append({"cfg": cfg, "color": colors.get(cfg, "#555"),
                            "x": statistics.median(x), "xmin": min(x), "xmax": max(x),
                            "y": statistics.median(y), "ymin": min(y), "ymax": max(y)})
        if pts:
            out.append({"phase": phase, "x_metric": f"{phase}.reuse_mib_s",
                        "y_metric": f"{phase}.footprint_mib", "points": pts})
    return out


def policy_table(pol):
    rows = ["<table class='policies'><tr><th>phase</th><th>config</th>"
            "<th>footprint MiB</th><th>reuse MiB/s</th></tr>"]
    for p in pol:
        for q in p["points"]:
            rows.append(f"<tr><td>{esc(p['phase'])}</td><td>{esc(q['cfg'])}</td>"
                        f"<td>{fmt(q['y'])} <small>[{fmt(q['ymin'])}..{fmt(q['ymax'])}]"
                        f"</small></td><td>{fmt(q['x'])} <small>[{fmt(q['xmin'])}.."
                        f"{fmt(q['xmax'])}]</small></td></tr>")
    return "".join(rows) + "</table>"


def ns(v):
    for unit, div in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if v >= div:
            return f"{v / div:g}{unit}"
    return f"{v}ns"


CFG_ORDER = ["stock", "mainline", "d100", "cap8", "o5", "hwm32", "adaptive", "reserve",
             "pristine", "off", "on", "hintstat", "no-hint", "hint"]


def cfg_key(c):
    return (CFG_ORDER.index(c) if c in CFG_ORDER else len(CFG_ORDER), c)


def latest_table(doc):
    s = doc["samples"]
    cfgs = sorted({c for per in s.values() for c in per}, key=cfg_key)
    rows = ["<table class='latest'><tr><th>metric</th>" +
            "".join(f"<th>{esc(c)}</th>" for c in cfgs) + "</tr>"]
    for key in compare.order(s):
        per = s[key]
        ref = next((r for r in ("stock", "mainline", "off", "no-hint") if r in per), None)
        tds = []
        for c in cfgs:
            v = [x for x in per.get(c, []) if x is not None]
            if not v:
                tds.append("<td>-</td>")
                continue
            med = statistics.median(v)
            rv = [x for x in per.get(ref, []) if x is not None] if ref and ref != c else []
            ratio = (f" <span class='ratio'>x{med / statistics.median(rv):.2f}</span>"
                     if rv and statistics.median(rv) else "")
            tds.append(f"<td>{esc(fmt(med))} <small>[{esc(fmt(min(v)))}.."
                       f"{esc(fmt(max(v)))}] n={len(v)}</small>{ratio}</td>")
        info = metric_info(key)
        rows.append(f"<tr><td title='{esc(info['desc'])}'>{esc(key)} "
                    f"<small>{esc(info['unit'])}</small></td>{''.join(tds)}</tr>")
    rows.append("</table>")
    ref_note = ("<p><small>ratio: against stock (Debian's kernel) in the same run, "
                "else mainline policy, hinting off, no hinting</small></p>")
    return "".join(rows) + ref_note


CSS = """
body{font:14px/1.4 system-ui,sans-serif;margin:20px;color:#222}
h1{font-size:20px}h2{font-size:17px;margin-top:28px}
figure{display:inline-block;margin:6px 10px;vertical-align:top}
figcaption{font-size:12px;max-width:560px}
.u-legend{font-size:11px;text-align:left}.u-legend th{font-weight:normal}
table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:3px 6px}
.ratio{color:#036}.REGRESSION{color:#c00;font-weight:bold}.meta td{border:none}
"""



def read(name):
    with open(os.path.join(HERE, name), encoding="utf-8") as f:
        return f.read()


def script_json(obj):
    # Inside <script>, "</" would end the element early.
    return json.dumps(obj, separators=(",", ":"), allow_nan=False).replace("</", "<\\/")


def render(history, latest):
    colors = color_map(history, latest)
    keys = compare.order({k for r in history for k in r.get("samples", {})})
    data = {"runs": [{"commit": str(r.get("commit", "?")), "time": r.get("time")}
                     for r in history], "plots": {}, "hists": [], "policies": []}
    figs, flags = [], []
    for key in keys:
        d, fl = plot_data(key, history, colors)
        if d:
            data["plots"][key] = d
            flags += fl
            figs.append(f'<figure><figcaption><b>{esc(key)}</b> &mdash; {esc(d["desc"])}'
                        f'</figcaption><div class="plot" data-metric="{esc(key)}"></div>'
                        '</figure>')
    js, css, lic = jslib.assets()
    last = latest or (history[-1] if history else None)
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
             f"<title>pagehint bench</title><style>{css}</style><style>{CSS}</style>"
             f"<!-- uPlot {jslib.VERSION} from npm, inlined: {esc(lic.splitlines()[0])}, "
             f"{esc(lic.splitlines()[2])} -->"
             f"<script>{js}</script></head><body>",
             "<h1>pagehint: free page hinting bench</h1>"]
    if last:
        meta = [("commit", last.get("commit")), ("time", last.get("time")),
                ("profile", last.get("profile")), ("accel", last.get("accel")),
                ("host CPU", f"{last.get('cpu')} x{last.get('nproc')}"),
                ("host steal", f"{last.get('steal_pct')} %"),
                ("kernels", ", ".join(f"{k}: {v}" for k, v in
                                      (last.get("kernels") or {}).items()))]
        parts.append("<table class='meta'>" + "".join(
            f"<tr><td><b>{esc(k)}</b></td><td>{esc(str(v))}</td></tr>" for k, v in meta)
            + "</table>")
    parts.append(f"<h2>Regression flags</h2><p>{len(history)} runs in the history. "
                 "A point is flagged against the previous run of the same "
                 "configuration and kind (profile, accel, CPU model) only "
                 "with &ge; 3 samples on each side, Welch's "
                 "t-test p &lt; 0.05, non-overlapping ranges and a change above "
                 "the metric's minimum effect.</p>")
    if flags:
        parts.append("<table class='flags'><tr><th>metric</th><th>config</th>"
                     "<th>commit</th><th>flag</th></tr>" + "".join(
                         f"<tr><td>{esc(k)}</td><td>{esc(c)}</td><td>{esc(str(cm))}</td>"
                         f"<td class='{'REGRESSION' if f == 'regression' else ''}'>"
                         f"{esc(f)}</td></tr>" for k, c, cm, f in flags) + "</table>")
    else:
        parts.append("<p id='noflags'>No flagged change.</p>")
    if last:
        parts.append("<h2>Latest run, side by side</h2><p>median [min..max] over "
                     "the samples</p>" + latest_table(last))
    parts.append("<h2>Metrics over commits</h2><p>median per configuration, "
                 "band and bars: min..max of the samples (the noise), red ring: "
                 "flagged regression, green: flagged improvement, dashed: the "
                 "physical bound measured in the same run. Hover for the commit "
                 "and values, drag to zoom, double-click to reset, click a legend "
                 "entry to hide it.</p>")
    parts += figs
    hists = []
    if latest and latest.get("hist"):
        for cfg, hs in latest["hist"].items():
            for name in ("fill_lock_ns", "drain_lock_ns", "pass_ns", "react_ns"):
                h = hist_data(name, cfg, hs.get(name) or [], colors.get(cfg, "#555"))
                if h:
                    hists.append(f'<figure><figcaption><b>{esc(name)}</b> ({esc(cfg)})'
                                 f'</figcaption><div class="hist" '
                                 f'data-index="{len(data["hists"])}"></div></figure>')
                    data["hists"].append(h)
    parts.append("<h2>hintstat histograms, latest run</h2>")
    parts.append("".join(hists) or "<p>no histogram in the latest run</p>")
    pol = policy_points(latest, colors) if latest else []
    if pol:
        parts.append("<h2>Policies: footprint vs reuse</h2><p>latest run, median "
                     "and min..max per configuration: the host's mean RSS against "
                     "the hinted pages the guest allocated again (each a refault "
                     "on the host). Lower left is better on both.</p>")
        for p in pol:
            parts.append(f'<figure><figcaption><b>{esc(p["phase"])}</b></figcaption>'
                         f'<div class="policies" data-index="{len(data["policies"])}">'
                         '</div></figure>')
            data["policies"].append(p)
        parts.append(policy_table(pol))
    if latest and latest.get("density"):
        d = latest["density"]
        parts.append("<h2>Density</h2><table><tr><th></th><th>guests</th>"
                     "<th>stopped</th><th>oom kills</th><th>limit hits</th><th>peak MiB</th></tr>"
                     + "".join(f"<tr><td>{esc(k)}</td><td>{v['guests']}</td>"
                               f"<td>{esc(v['stopped'])}</td><td>{v['oom_kill']}</td>"
                               f"<td>{v['max_events']}</td><td>{v['peak_mib']}</td></tr>"
                               for k, v in d.items() if isinstance(v, dict) and "guests" in v)
                     + f"</table><p>budget {d.get('budget_mib')} MiB, 1 GiB guests "
                     f"touching and freeing 800 MiB</p>")
    parts.append(f'<script type="application/json" id="pagehint-data">'
                 f'{script_json(data)}</script>'
                 f'<script>{read("dashboard.js")}</script>'
                 f'<script>{read("dashboard-check.js")}</script></body></html>')
    return "\n".join(parts)


def newest_results():
    files = glob.glob(os.path.join(BUILD, "bench", "results-*.json"))
    return max(files, key=os.path.getmtime) if files else None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--history", default=HISTORY)
    ap.add_argument("--results", help="latest results JSON (default: newest in build/bench)")
    ap.add_argument("--no-results", action="store_true",
                    help="draw the history alone")
    ap.add_argument("-o", "--output", default=os.path.join(BUILD, "dashboard", "index.html"))
    a = ap.parse_args()
    history = load_history(a.history)
    res = None if a.no_results else (a.results or newest_results())
    latest = None
    if res:
        with open(res) as f:
            latest = json.load(f)
    if not history and not latest:
        raise SystemExit(f"dashboard: no history ({a.history}) and no results "
                         "(hint: make bench)")
    if not latest and history:
        latest = history[-1]
    if latest and not any(r.get("time") == latest.get("time") for r in history):
        history = history + [latest]
    os.makedirs(os.path.dirname(os.path.abspath(a.output)), exist_ok=True)
    try:
        page = render(history, latest)
    except jslib.JslibError as e:
        raise SystemExit(f"dashboard: {e}")
    with open(a.output, "w") as f:
        f.write(page)
    print(f"dashboard: {a.output} ({len(history)} runs"
          f"{', latest ' + os.path.basename(res) if res else ''})")


if __name__ == "__main__":
    main()
