"""Parse page_hinting events from a tracefs `trace` dump.

Used by the tests and the demo until hintstat replaces the tracefs view.
Lines look like

  kworker/0:2-41  [001] .....  23.456789: page_hinting_fill: nid=0 ...

with the timestamp on the trace clock (the guest scenarios select "mono",
CLOCK_MONOTONIC, the clock memhog's markers use).
"""
import re

LINE_RE = re.compile(r"^\s*(?P<task>.+?)-(?P<pid>\d+)\s+(?:\(\s*\S+\)\s+)?"
                     r"\[(?P<cpu>\d+)\]\s+(?:\S+\s+)?(?P<ts>\d+\.\d+): "
                     r"(?P<event>\w+): (?P<args>.*)$")
FIELD_RE = re.compile(r"(\w+)=(\S+)")


class Event(dict):
    """One event: its fields as ints where they parse, plus name and ts."""

    def __init__(self, name, ts, fields):
        super().__init__(fields)
        self.name = name
        self.ts = ts

    def __repr__(self):
        return f"{self.name}@{self.ts:.6f}{dict(self)}"


def _value(v):
    try:
        return int(v)
    except ValueError:
        return v


def parse(text, prefix="page_hinting_"):
    """Events whose name starts with prefix, in trace order."""
    events = []
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = LINE_RE.match(line)
        if not m or not m["event"].startswith(prefix):
            continue
        fields = {k: _value(v) for k, v in FIELD_RE.findall(m["args"])}
        events.append(Event(m["event"][len(prefix):], float(m["ts"]), fields))
    return events


def lost_events(text):
    """Count of events the ring buffer dropped (tracefs marks overruns)."""
    n = 0
    for m in re.finditer(r"LOST (\d+) EVENTS", text):
        n += int(m.group(1))
    return n


class Batch:
    def __init__(self, fill, react, drain):
        self.fill, self.react, self.drain = fill, react, drain


def batches(events):
    """Group fill -> react -> drain into batches.

    Reporting runs in one worker at a time, so the three events of a batch
    are adjacent among fill/react/drain events. Raises ValueError on any
    other order, which is what a test wants to see.
    """
    seq = [e for e in events if e.name in ("fill", "react", "drain")]
    out = []
    if len(seq) % 3:
        raise ValueError(f"{len(seq)} fill/react/drain events, not triplets")
    for i in range(0, len(seq), 3):
        f, r, d = seq[i:i + 3]
        if (f.name, r.name, d.name) != ("fill", "react", "drain"):
            raise ValueError(f"out of order at event {i}: {f.name}, {r.name}, {d.name}")
        out.append(Batch(f, r, d))
    return out


def passes(events):
    """[(pass_event, [batches in it])]: batches grouped by the pass after them."""
    res = []
    seq = [e for e in events if e.name in ("fill", "react", "drain", "pass")]
    pending = []
    for e in seq:
        if e.name == "pass":
            res.append((e, batches(pending)))
            pending = []
        else:
            pending.append(e)
    if pending:
        res.append((None, batches(pending)))
    return res


def percentile(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    v = sorted(values)
    k = max(0, min(len(v) - 1, -(-p * len(v) // 100) - 1))
    return v[int(k)]
