#!/usr/bin/python3
"""Write the bench dashboard: one static HTML page, no server, no network,
no external script. Every metric over the commits of the history (median
per configuration, the min..max noise band, regression flags against the
previous run of the same configuration), the latest run side by side,
and the hintstat histograms of the latest run, as inline SVG.

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

COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
          "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"]
W, H, PAD_L, PAD_R, PAD_T, PAD_B = 560, 220, 56, 12, 14, 40
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
            # Against the previous run of the same profile (a CI run
            # boots for less than a full one).
            pk = (cfg, r.get("profile"))
            flag = judge(prev[pk], v, key)["status"] if pk in prev else "n/a"
            out.setdefault(cfg, []).append(
                (i, statistics.median(v), min(v), max(v), len(v), flag))
            prev[pk] = v
    return out


def fmt(v):
    return compare.fmt_v(v)


def plot(key, history, colors):
    ser = series(history, key)
    if not ser:
        return None, []
    info = metric_info(key)
    lo = min(p[2] for s in ser.values() for p in s)
    hi = max(p[3] for s in ser.values() for p in s)
    lo = min(lo, 0) if lo >= 0 and lo < 0.5 * hi else lo
    if hi == lo:
        hi, lo = hi + (abs(hi) or 1) * 0.1, lo - (abs(lo) or 1) * 0.1
    n = max(len(history), 2)
    pw, ph = W - PAD_L - PAD_R, H - PAD_T - PAD_B

    def x(i):
        return PAD_L + pw * (i + 0.5) / n

    def y(v):
        return PAD_T + ph * (1 - (v - lo) / (hi - lo))

    el = [f'<svg class="plot" data-metric="{esc(key)}" width="{W}" height="{H}" '
          f'viewBox="0 0 {W} {H}" xmlns="http://www.w3.org/2000/svg">',
          f'<rect x="{PAD_L}" y="{PAD_T}" width="{pw}" height="{ph}" class="frame"/>']
    for k in range(5):
        v = lo + (hi - lo) * k / 4
        el.append(f'<line x1="{PAD_L}" x2="{PAD_L + pw}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
                  f'class="grid"/><text x="{PAD_L - 4}" y="{y(v) + 4:.1f}" '
                  f'class="ytick">{esc(fmt(v))}</text>')
    step = max(1, len(history) // 8)
    for i, r in enumerate(history):
        if i % step == 0 or i == len(history) - 1:
            el.append(f'<text x="{x(i):.1f}" y="{H - PAD_B + 14}" class="xtick">'
                      f'{esc(str(r.get("commit", "?"))[:7])}</text>')
    flags = []
    for cfg, pts in ser.items():
        c = colors[cfg]
        if len(pts) > 1:
            band = ([f"{x(p[0]):.1f},{y(p[3]):.1f}" for p in pts]
                    + [f"{x(p[0]):.1f},{y(p[2]):.1f}" for p in reversed(pts)])
            el.append(f'<polygon points="{" ".join(band)}" fill="{c}" class="band"/>')
            el.append(f'<polyline points="{" ".join(f"{x(p[0]):.1f},{y(p[1]):.1f}" for p in pts)}" '
                      f'stroke="{c}" class="line"/>')
        for i, med, mn, mx, cnt, flag in pts:
            el.append(f'<line x1="{x(i):.1f}" x2="{x(i):.1f}" y1="{y(mn):.1f}" '
                      f'y2="{y(mx):.1f}" stroke="{c}" class="range"/>')
            cls = "pt" + (" flag" if flag == "regression" else
                          " good" if flag == "improvement" else "")
            el.append(f'<circle class="{cls}" cx="{x(i):.1f}" cy="{y(med):.1f}" r="3.5" '
                      f'fill="{c}" data-config="{esc(cfg)}" data-run="{i}" '
                      f'data-v="{med!r}"><title>{esc(cfg)} '
                      f'{esc(str(history[i].get("commit")))}: {esc(fmt(med))} '
                      f'[{esc(fmt(mn))}..{esc(fmt(mx))}] n={cnt} {flag}</title></circle>')
            if flag in ("regression", "improvement"):
                flags.append((key, cfg, history[i].get("commit"), flag))
    el.append(f'<text x="{PAD_L}" y="{H - 6}" class="unit">{esc(info["unit"])}, '
              f'{esc(info["better"])} is better</text></svg>')
    legend = " ".join(f'<span class="key" style="color:{colors[c]}">&#9632; {esc(c)}</span>'
                      for c in ser)
    return (f'<figure><figcaption><b>{esc(key)}</b> &mdash; {esc(info["desc"])}'
            f'<br>{legend}</figcaption>{"".join(el)}</figure>'), flags


def hist_svg(name, cfg, h, color):
    bars = [b for b in h if b["count"]]
    if not bars:
        return None
    bw = max(6, min(40, (W - PAD_L - PAD_R) // len(h)))
    top = max(b["count"] for b in h)
    ph = H - PAD_T - PAD_B
    el = [f'<svg class="hist" data-hist="{esc(name)}" data-config="{esc(cfg)}" '
          f'width="{PAD_L + bw * len(h) + PAD_R}" height="{H}" xmlns="http://www.w3.org/2000/svg">']
    for i, b in enumerate(h):
        bh = ph * b["count"] / top
        el.append(f'<rect class="bar" x="{PAD_L + i * bw}" y="{PAD_T + ph - bh:.1f}" '
                  f'width="{bw - 2}" height="{bh:.1f}" fill="{color}" data-count="{b["count"]}">'
                  f'<title>{b["min"]}..{b["max"]} ns: {b["count"]}</title></rect>')
        if i % max(1, len(h) // 6) == 0:
            el.append(f'<text x="{PAD_L + i * bw}" y="{H - PAD_B + 14}" class="xtick0">'
                      f'{esc(ns(b["min"]))}</text>')
    el.append(f'<text x="{PAD_L - 4}" y="{PAD_T + 8}" class="ytick">{top}</text>'
              f'<text x="{PAD_L}" y="{H - 6}" class="unit">log2 buckets of ns, count</text></svg>')
    return f'<figure><figcaption><b>{esc(name)}</b> ({esc(cfg)})</figcaption>{"".join(el)}</figure>'


def ns(v):
    for unit, div in (("s", 1e9), ("ms", 1e6), ("us", 1e3)):
        if v >= div:
            return f"{v / div:g}{unit}"
    return f"{v}ns"


CFG_ORDER = ["stock", "mainline", "d100", "cap8", "o5", "hwm32", "pristine",
             "off", "on", "hintstat", "no-hint", "hint"]


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
.frame{fill:#fafafa;stroke:#bbb}.grid{stroke:#e4e4e4}
.ytick{font-size:10px;text-anchor:end;fill:#555}.xtick{font-size:10px;text-anchor:middle;fill:#555}
.xtick0{font-size:10px;fill:#555}.unit{font-size:10px;fill:#777}
.band{fill-opacity:.13;stroke:none}.line{fill:none;stroke-width:1.5}
.range{stroke-width:1;stroke-opacity:.6}.pt.flag{stroke:#e00;stroke-width:3}
.pt.good{stroke:#0a0;stroke-width:2}
table{border-collapse:collapse;font-size:12px}td,th{border:1px solid #ccc;padding:3px 6px}
.ratio{color:#036}.REGRESSION{color:#c00;font-weight:bold}.meta td{border:none}
"""

CHECK_JS = """
(function(){var p=document.querySelectorAll('svg.plot'),e=[];
for(var i=0;i<p.length;i++){if(!p[i].querySelectorAll('circle.pt').length)e.push(p[i].dataset.metric);}
document.body.dataset.plots=p.length;document.body.dataset.empty=e.join(',');
document.body.dataset.hists=document.querySelectorAll('svg.hist').length;
if(e.length)console.error('plots without data: '+e.join(','));})();
"""


def render(history, latest):
    colors = color_map(history, latest)
    keys = compare.order({k for r in history for k in r.get("samples", {})})
    figs, flags = [], []
    for key in keys:
        f, fl = plot(key, history, colors)
        if f:
            figs.append(f)
            flags += fl
    last = latest or (history[-1] if history else None)
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
             f"<title>pagehint bench</title><style>{CSS}</style></head><body>",
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
                 "configuration and profile only with &ge; 3 samples on each side, Welch's "
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
                 "flagged regression, green: flagged improvement</p>")
    parts += figs
    hists = []
    if latest and latest.get("hist"):
        for cfg, hs in latest["hist"].items():
            for name in ("fill_lock_ns", "drain_lock_ns", "pass_ns", "react_ns"):
                f = hist_svg(name, cfg, hs.get(name) or [], colors.get(cfg, "#555"))
                if f:
                    hists.append(f)
    parts.append("<h2>hintstat histograms, latest run</h2>")
    parts.append("".join(hists) or "<p>no histogram in the latest run</p>")
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
    parts.append(f"<script>{CHECK_JS}</script></body></html>")
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
    with open(a.output, "w") as f:
        f.write(render(history, latest))
    print(f"dashboard: {a.output} ({len(history)} runs"
          f"{', latest ' + os.path.basename(res) if res else ''})")


if __name__ == "__main__":
    main()
