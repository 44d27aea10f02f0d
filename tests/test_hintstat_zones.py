"""hintstat per zone, with two zones: a 3 GiB q35 guest has DMA32 (the
RAM below the PCI hole, 2 GiB) and Normal (the rest, above 4 GiB).
memhog touches and frees 1499 MiB (a prime), more than Normal holds, so
both zones get reported. Three views of the same window:

- the trace (tracefs page_hinting events): the independent truth;
- hintstat in the tracepoint mode: per (zone, order) counts and the -Z
  histograms must equal the trace;
- hintstat forced to the fallback mode (--mode fentry, as on a stock
  kernel: no fill, each batch placed by its first scatterlist entry's
  page and length): its per (zone, order) counts must equal the trace's
  too, since the first entry comes from the free list that completed
  the batch, the list the last fill event names.
"""
import json
from collections import Counter

import pytest

import tracefile
from conftest import (hintstat_zone_counts, run_vm, trace_batch_counts,
                      trace_zone_counts, zone_hist_counts)

pytestmark = pytest.mark.vm

GUEST_MIB = 3072
FREE_MIB = 1499


@pytest.fixture(scope="module")
def zrun(kernel, initrd):
    run = run_vm("hintstat-zones", kernel, initrd, "hintstat",
                 {"MIB": FREE_MIB, "FALLBACK": 1}, timeout=600,
                 mem=GUEST_MIB)
    run.assert_clean()
    for name in ("hintstat.rc", "hintstat-text.rc", "fallback.rc"):
        assert run.file(name).strip() == "0", run.file(name[:-3] + ".err")
    return run


def last_total(run, name):
    objs = [json.loads(l) for l in run.file(name).splitlines()]
    iv = [o for o in objs if "interval_s" in o]
    assert len(iv) >= 2, name
    return iv[-1]


@pytest.fixture(scope="module")
def trace(zrun):
    text = zrun.file("trace.txt")
    assert tracefile.lost_events(text) == 0
    end = last_total(zrun, "hintstat.json")["ts"]
    events = tracefile.parse(text)
    assert all(e.name in ("request", "reuse") for e in events if e.ts > end)
    return [e for e in events if e.ts <= end]


@pytest.fixture(scope="module")
def want(trace):
    return trace_batch_counts(trace)


def test_both_zones_were_reported(want):
    reported = Counter()
    for (zone, _), c in want.items():
        reported[zone] += c["bytes"]
    assert reported["DMA32"] > 0 and reported["Normal"] > 0, dict(reported)


@pytest.mark.exact('per-zone per-order counts', a='hintstat tracepoint mode',
                   b='tracefs events',
                   independent=False, why='both read the same tracepoints')
def test_tracepoint_mode_zones_equal_the_trace(zrun, want):
    o = last_total(zrun, "hintstat.json")
    assert o["mode"] == "tracepoints"
    assert hintstat_zone_counts(o["total"]) == want


@pytest.mark.exact('per-zone per-order counts', a="hintstat fallback (zone from the batch's first pfn)",
                   b="tracefs fill events' zone",
                   independent=True, why="function arguments and /proc/zoneinfo spans vs the series' events")
def test_fallback_mode_zones_equal_the_trace(zrun, want):
    o = last_total(zrun, "fallback.json")
    assert o["mode"] == "fentry"
    assert "mode: fallback (fentry)" in zrun.file("fallback.err")
    assert o["total"]["unattributed"] == 0
    assert hintstat_zone_counts(o["total"]) == want


@pytest.mark.exact('durations', a='hintstat -H -Z',
                   b='tracefs events',
                   independent=False, why='both read the same tracepoints')
def test_per_zone_histograms_equal_the_trace(zrun, trace):
    want = trace_zone_counts(trace)
    assert {z for _, z in want} == {"DMA32", "Normal"}
    assert zone_hist_counts(zrun.file("hintstat.txt")) == want
