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
import re
from collections import Counter, defaultdict

import pytest

import tracefile
from conftest import run_vm

pytestmark = pytest.mark.vm

GUEST_MIB = 3072
FREE_MIB = 1499
KEYS = ("bytes", "failed_bytes", "entries", "batches")


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
    assert all(e.name == "request" for e in events if e.ts > end)
    return [e for e in events if e.ts <= end]


@pytest.fixture(scope="module")
def want(trace):
    """(zone, order) -> counts, by the last fill before each react."""
    w = defaultdict(Counter)
    for b in tracefile.batches(trace):
        c = w[b.fill["zone"], b.fill["order"]]
        ok = b.react["err"] == 0
        c["bytes"] += b.react["bytes"] if ok else 0
        c["failed_bytes"] += 0 if ok else b.react["bytes"]
        c["entries"] += b.react["entries"]
        c["batches"] += 1
    return {k: +v for k, v in w.items()}


def zones(total):
    return {(z["zone"], z["order"]): Counter({k: z[k] for k in KEYS if z[k]})
            for z in total["zones"]}


def test_both_zones_were_reported(want):
    reported = Counter()
    for (zone, _), c in want.items():
        reported[zone] += c["bytes"]
    assert reported["DMA32"] > 0 and reported["Normal"] > 0, dict(reported)


def test_tracepoint_mode_zones_equal_the_trace(zrun, want):
    o = last_total(zrun, "hintstat.json")
    assert o["mode"] == "tracepoints"
    assert zones(o["total"]) == want


def test_fallback_mode_zones_equal_the_trace(zrun, want):
    o = last_total(zrun, "fallback.json")
    assert o["mode"] == "fentry"
    assert "mode: fallback (fentry)" in zrun.file("fallback.err")
    assert o["total"]["unattributed"] == 0
    assert zones(o["total"]) == want


def test_per_zone_histograms_equal_the_trace(zrun, trace):
    titles = {"fill lock hold": "fill", "react (device call)": "react",
              "drain lock hold": "drain"}
    got = Counter()
    for title, zone, n in re.findall(r"^(.+), zone (\w+) \(ns\): count (\d+)$",
                                     zrun.file("hintstat.txt"), re.M):
        got[titles[title], zone] += int(n)
    expect, zone = Counter(), None
    for e in trace:
        if e.name == "fill":
            zone = e["zone"]
        if e.name in ("fill", "react", "drain"):
            expect[e.name, zone] += 1
    assert {z for _, z in +expect} == {"DMA32", "Normal"}
    assert +got == +expect
