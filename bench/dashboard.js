/*
 * The bench dashboard's charts, drawn with uPlot from the JSON that
 * bench/dashboard.py embeds in the page (#pagehint-data). One chart per
 * metric: x is the run (its commit on the axis and in the legend), one
 * series per configuration (the median), its min..max noise as a band and
 * a bar per run, flagged runs ringed (red: regression, green:
 * improvement), physical bounds as dashed reference lines. Hovering shows
 * the commit and each configuration's value in the legend; dragging
 * zooms, a double click resets; a click on a legend entry hides that
 * configuration and its band.
 */
(function () {
	'use strict';
	var D = JSON.parse(document.getElementById('pagehint-data').textContent);
	var made = [];
	var dpr = window.devicePixelRatio || 1;

	function fmt(v) {
		if (v === null || v === undefined)
			return '-';
		var a = Math.abs(v);
		if (a >= 1e5 || (a > 0 && a < 1e-3))
			return v.toExponential(3);
		return String(+v.toPrecision(4));
	}

	function commit(i) {
		var r = D.runs[i];
		return r ? String(r.commit).slice(0, 7) : '';
	}

	/* The y range over what is shown: medians, min..max and bounds. */
	function yRange(p) {
		return function (u) {
			var lo = Infinity, hi = -Infinity;
			function take(v) {
				if (v !== null && v !== undefined) {
					lo = Math.min(lo, v);
					hi = Math.max(hi, v);
				}
			}
			p.series.forEach(function (s, k) {
				if (!u.series[k + 1].show)
					return;
				s.min.forEach(take);
				s.max.forEach(take);
			});
			p.bounds.forEach(function (b, k) {
				if (u.series[p.series.length + k + 1].show)
					b.vals.forEach(take);
			});
			if (lo === Infinity)
				return [0, 1];
			if (lo >= 0 && lo < 0.5 * hi)
				lo = 0;
			if (hi === lo) {
				hi += (Math.abs(hi) || 1) * 0.1;
				lo -= (Math.abs(lo) || 1) * 0.1;
			}
			var pad = (hi - lo) * 0.06;
			return [lo === 0 ? 0 : lo - pad, hi + pad];
		};
	}

	/* Noise bands, min..max bars and flag rings, under the lines. */
	function drawNoise(p) {
		return function (u) {
			var ctx = u.ctx;
			ctx.save();
			p.series.forEach(function (s, k) {
				if (!u.series[k + 1].show)
					return;
				var idx = [];
				s.med.forEach(function (v, i) {
					if (v !== null)
						idx.push(i);
				});
				var X = function (i) { return u.valToPos(i, 'x', true); };
				var Y = function (v) { return u.valToPos(v, 'y', true); };
				ctx.fillStyle = s.color;
				ctx.strokeStyle = s.color;
				if (idx.length > 1) {
					ctx.globalAlpha = 0.13;
					ctx.beginPath();
					idx.forEach(function (i, n) {
						(n ? ctx.lineTo : ctx.moveTo).call(ctx, X(i), Y(s.max[i]));
					});
					idx.slice().reverse().forEach(function (i) {
						ctx.lineTo(X(i), Y(s.min[i]));
					});
					ctx.closePath();
					ctx.fill();
				}
				idx.forEach(function (i) {
					ctx.globalAlpha = 0.6;
					ctx.lineWidth = dpr;
					ctx.beginPath();
					ctx.moveTo(X(i), Y(s.min[i]));
					ctx.lineTo(X(i), Y(s.max[i]));
					ctx.stroke();
					if (s.flag[i] !== 'regression' && s.flag[i] !== 'improvement')
						return;
					ctx.globalAlpha = 1;
					ctx.lineWidth = 2.5 * dpr;
					ctx.strokeStyle = s.flag[i] === 'regression' ? '#e00' : '#0a0';
					ctx.beginPath();
					ctx.arc(X(i), Y(s.med[i]), 7 * dpr, 0, 2 * Math.PI);
					ctx.stroke();
					ctx.strokeStyle = s.color;
				});
			});
			ctx.restore();
		};
	}

	function seriesOpts(p) {
		var out = [{
			label: 'commit',
			value: function (u, v) { return v === null ? '-' : commit(v); }
		}];
		p.series.forEach(function (s) {
			out.push({
				label: s.cfg, stroke: s.color, width: 1.5, spanGaps: true,
				points: { show: true, size: 7, fill: s.color },
				value: function (u, v, si, i) {
					if (i === null || v === null)
						return '-';
					return fmt(v) + ' [' + fmt(s.min[i]) + '..' + fmt(s.max[i]) +
						'] n=' + s.n[i] + (s.flag[i] === 'n/a' ? '' : ' ' + s.flag[i]);
				}
			});
		});
		p.bounds.forEach(function (b) {
			out.push({
				label: 'bound: ' + b.name, stroke: '#444', width: 1.5,
				dash: [6, 4], spanGaps: true, points: { show: false },
				value: function (u, v) { return fmt(v); }
			});
		});
		return out;
	}

	function plot(el, p) {
		var data = [D.runs.map(function (r, i) { return i; })];
		p.series.forEach(function (s) { data.push(s.med); });
		p.bounds.forEach(function (b) { data.push(b.vals); });
		var u = new uPlot({
			width: 560, height: 240,
			cursor: { drag: { x: true, y: false } },
			legend: { live: true },
			scales: {
				x: { time: false, range: function (u, lo, hi) {
					return [lo - 0.5, hi + 0.5];
				} },
				y: { range: yRange(p) }
			},
			axes: [{
				values: function (u, splits) {
					return splits.map(function (v) {
						return Number.isInteger(v) ? commit(v) : '';
					});
				},
				incrs: [1, 2, 5, 10, 20, 50, 100]
			}, {
				label: p.unit + ', ' + p.better + ' is better', size: 64,
				values: function (u, splits) { return splits.map(fmt); }
			}],
			series: seriesOpts(p),
			hooks: { drawClear: [drawNoise(p)] }
		}, data, el);
		made.push({ kind: 'plot', d: p, u: u });
	}

	function hist(el, h) {
		var u = new uPlot({
			width: Math.max(240, 60 + 34 * h.buckets.length), height: 220,
			legend: { live: true },
			scales: { x: { time: false, range: function (u, lo, hi) {
				return [lo - 0.5, hi + 0.5];
			} } },
			axes: [{
				values: function (u, splits) {
					return splits.map(function (v) {
						var b = h.buckets[v];
						return Number.isInteger(v) && b ? b.label : '';
					});
				}
			}, { label: 'count', size: 56 }],
			series: [{
				label: 'log2 bucket of ns',
				value: function (u, v) {
					var b = h.buckets[v];
					return b ? b.min + '..' + b.max + ' ns' : '-';
				}
			}, {
				label: h.name + ' (' + h.cfg + ')', fill: h.color + 'b0', stroke: h.color,
				paths: uPlot.paths.bars({ size: [0.8, 40] }), points: { show: false }
			}]
		}, [h.buckets.map(function (b, i) { return i; }),
		    h.buckets.map(function (b) { return b.count; })], el);
		made.push({ kind: 'hist', d: h, u: u });
	}

	/*
	 * The policies of the latest run as points: x the reuse (hinted pages
	 * allocated again, MiB/s), y the footprint, whiskers min..max. Lower
	 * left is better on both.
	 */
	function policies(el, p) {
		var pts = p.points.slice().sort(function (a, b) { return a.x - b.x; });
		var data = [pts.map(function (q) { return q.x; })];
		var series = [{ label: p.x_metric,
				value: function (u, v) { return fmt(v); } }];
		pts.forEach(function (q, k) {
			data.push(pts.map(function (r, i) { return i === k ? q.y : null; }));
			series.push({
				label: q.cfg, stroke: q.color, fill: q.color, width: 0,
				paths: function () { return null; },
				points: { show: true, size: 10, fill: q.color },
				value: function (u, v) {
					return v === null ? '-' : fmt(q.y) + ' MiB at ' + fmt(q.x) + ' MiB/s';
				}
			});
		});
		var u = new uPlot({
			width: 560, height: 300,
			cursor: { drag: { x: true, y: false } },
			scales: { x: { time: false, range: function (u, lo, hi) {
				var w = (hi - lo) || Math.abs(hi) || 1;
				return [Math.max(0, lo - 0.15 * w), hi + 0.15 * w];
			} }, y: { range: function () {
				var lo = Infinity, hi = -Infinity;
				pts.forEach(function (q) {
					lo = Math.min(lo, q.ymin);
					hi = Math.max(hi, q.ymax);
				});
				var w = (hi - lo) || hi || 1;
				return [Math.max(0, lo - 0.15 * w), hi + 0.15 * w];
			} } },
			axes: [{ label: p.x_metric + ' (MiB/s, lower is better)',
				 values: function (u, sp) { return sp.map(fmt); } },
			       { label: p.y_metric + ' (MiB, lower is better)', size: 64,
				 values: function (u, sp) { return sp.map(fmt); } }],
			series: series,
			hooks: { drawClear: [function (u) {
				var ctx = u.ctx;
				ctx.save();
				ctx.lineWidth = dpr;
				pts.forEach(function (q, k) {
					if (!u.series[k + 1].show)
						return;
					var x = u.valToPos(q.x, 'x', true), y = u.valToPos(q.y, 'y', true);
					ctx.strokeStyle = q.color;
					ctx.beginPath();
					ctx.moveTo(u.valToPos(q.xmin, 'x', true), y);
					ctx.lineTo(u.valToPos(q.xmax, 'x', true), y);
					ctx.moveTo(x, u.valToPos(q.ymin, 'y', true));
					ctx.lineTo(x, u.valToPos(q.ymax, 'y', true));
					ctx.stroke();
				});
				ctx.restore();
			}] }
		}, data, el);
		made.push({ kind: 'policies', d: p, u: u });
	}

	document.querySelectorAll('div.policies').forEach(function (el) {
		policies(el, D.policies[+el.dataset.index]);
	});
	document.querySelectorAll('div.plot').forEach(function (el) {
		plot(el, D.plots[el.dataset.metric]);
	});
	document.querySelectorAll('div.hist').forEach(function (el) {
		hist(el, D.hists[+el.dataset.index]);
	});
	window.pagehintPlots = made;
})();
