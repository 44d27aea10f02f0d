/*
 * The page checks itself once drawn, for bench/browser.py (headless
 * Chromium): every chart has data on a canvas of non-zero size, hovering
 * the last run shows its commit, dragging zooms and a double click
 * resets, a legend click hides a configuration. What the charts hold is
 * written as JSON to a hidden pre element, #rendered, for a test to
 * compare with the history it was made from; problems go to the console.
 */
(function () {
	'use strict';
	var P = window.pagehintPlots || [];
	var out = { plots: {}, hists: {} };
	var empty = [];
	var broken = [];

	function legend(u) {
		return u.root.querySelector('.u-legend').textContent;
	}

	/* uPlot ignores a drag's mousemove without movement (a Chrome quirk). */
	function mouse(target, type, x, y, dx) {
		target.dispatchEvent(new MouseEvent(type, {
			clientX: x, clientY: y, movementX: dx || 0,
			button: 0, buttons: type === 'mouseup' ? 0 : 1,
			bubbles: true, cancelable: true, view: window
		}));
	}

	/*
	 * Drag across the middle of the plot; uPlot applies scale changes in
	 * a microtask, so the result is read on the next tick.
	 */
	function drag(u) {
		var r = u.over.getBoundingClientRect();
		var y = r.top + r.height / 2;
		mouse(u.over, 'mousedown', r.left + r.width * 0.3, y);
		mouse(u.over, 'mousemove', r.left + r.width * 0.6, y, r.width * 0.3);
		mouse(document, 'mouseup', r.left + r.width * 0.6, y);
	}

	function dblclick(u) {
		var r = u.over.getBoundingClientRect();
		mouse(u.over, 'dblclick', r.left + r.width / 2, r.top + r.height / 2);
	}

	function xs(u) {
		return [u.scales.x.min, u.scales.x.max];
	}

	function toggle(u) {
		var th = u.root.querySelectorAll('.u-legend .u-series')[1];
		th.firstChild.click();
		var hidden = !u.series[1].show;
		th.firstChild.click();
		return hidden && u.series[1].show;
	}

	function checkPlot(p) {
		var u = p.u, pts = [], last = null;
		p.d.series.forEach(function (s, k) {
			u.data[k + 1].forEach(function (v, i) {
				if (v === null)
					return;
				pts.push([s.cfg, i, v, s.flag[i]]);
				if (k === 0)
					last = i;
			});
		});
		if (!pts.length || !u.ctx.canvas.width)
			empty.push(p.d.metric);
		var hover = '';
		if (last !== null) {
			u.setCursor({ left: u.valToPos(last, 'x'),
				      top: u.valToPos(u.data[1][last], 'y') });
			hover = legend(u);
		}
		var t = toggle(u);
		if (!t)
			broken.push(p.d.metric + ': legend toggle');
		out.plots[p.d.metric] = {
			points: pts, hover: hover, zoom: { before: xs(u) }, toggle: t,
			bounds: p.d.bounds.map(function (b) { return b.name; })
		};
	}

	P.forEach(function (p) {
		if (p.kind === 'plot') {
			checkPlot(p);
			return;
		}
		if (p.kind === 'policies') {
			out.policies = out.policies || {};
			out.policies[p.d.phase] = p.d.points.map(function (q) {
				var k = p.u.series.findIndex(function (s) { return s.label === q.cfg; });
				var v = p.u.data[k].find(function (x) { return x !== null; });
				var i = p.u.data[k].indexOf(v);
				return [q.cfg, p.u.data[0][i], v];
			});
			return;
		}
		var key = p.d.name + '/' + p.d.cfg;
		out.hists[key] = p.u.data[1];
		if (!p.u.ctx.canvas.width)
			empty.push(key);
	});
	function zoomed(p) {
		var z = out.plots[p.d.metric].zoom;
		if (!(z.zoomed[1] - z.zoomed[0] < z.before[1] - z.before[0]) ||
		    z.reset[0] !== z.before[0] || z.reset[1] !== z.before[1])
			broken.push(p.d.metric + ': zoom ' + JSON.stringify(z));
	}

	function finish() {
		document.querySelectorAll('div.plot, div.hist').forEach(function (el) {
			if (!el.querySelector('.uplot'))
				empty.push(el.dataset.metric || 'hist ' + el.dataset.index);
		});
		document.body.dataset.plots = plots.length;
		document.body.dataset.empty = empty.join(',');
		document.body.dataset.hists = P.filter(function (p) { return p.kind === 'hist'; }).length;
		document.body.dataset.broken = broken.join(' | ');
		var pre = document.createElement('pre');
		pre.id = 'rendered';
		pre.hidden = true;
		pre.textContent = JSON.stringify(out);
		document.body.appendChild(pre);
		if (empty.length)
			console.error('plots without data: ' + empty.join(','));
		if (broken.length)
			console.error('charts that do not respond: ' + broken.join(' | '));
	}

	var plots = P.filter(function (p) { return p.kind === 'plot'; });
	plots.forEach(function (p) { drag(p.u); });
	setTimeout(function () {
		plots.forEach(function (p) {
			out.plots[p.d.metric].zoom.zoomed = xs(p.u);
			dblclick(p.u);
		});
		setTimeout(function () {
			plots.forEach(function (p) {
				out.plots[p.d.metric].zoom.reset = xs(p.u);
				zoomed(p);
				p.u.setCursor({ left: -10, top: -10 });
			});
			finish();
		}, 0);
	}, 0);
})();
