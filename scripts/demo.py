#!/usr/bin/python3
"""pagehint demo, the product tour: boot the patched guest under QEMU with
a free-page-reporting balloon, allocate and free memory in it a few
times, and show live, side by side, what the guest hinted (its hintstat,
streamed over virtio-serial), what QEMU discarded of guest RAM, its RSS
and the refaults (hintstat host on QEMU), then a short summary.

Scenario: guest/scenarios/host-cycles.sh (ROUNDS cycles of MIB).
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(TOP, "vm"))

import pagehint_vm  # noqa: E402
import tracefile  # noqa: E402

BUILD = os.environ.get("BUILD", os.path.join(TOP, "build"))
HINTSTAT = os.path.join(BUILD, "bin", "hintstat")
MIB = 1 << 20


def mib(v):
    """Bytes as whole MiB; '-' when hintstat could not measure them."""
    return "-" if v is None else f"{v / MIB:.0f}"


def fmt_ns(ns):
    if ns is None:
        return "-"
    if ns >= 1e9:
        return f"{ns / 1e9:.2f} s"
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    return f"{ns / 1e3:.1f} us"


def phase_of(markers):
    phase = "booting"
    # Markers of one phase change can share a timestamp: freed after touched.
    rank = {"alloc": 0, "touched": 1, "freed": 2}
    for name in sorted(markers, key=lambda n: (markers[n],
                                               rank.get(n.split(".")[0], 0))):
        if name == "boot":
            phase = "booted"
        elif name == "stream-start":
            phase = "guest hintstat up"
        elif name.startswith(("alloc.", "touched.")):
            phase = f"round {name.split('.')[1]}: allocating"
        elif name.startswith("freed."):
            phase = f"round {name.split('.')[1]}: freed"
        elif name == "stream-stopped":
            phase = "guest stream stopped"
    return phase


class Tour:
    """on_start attaches hintstat host; on_sample prints its new lines."""

    def __init__(self, out, sock):
        self.out, self.sock = out, sock
        self.host = None
        self.json_path = os.path.join(out, "host.json")
        self.err_path = os.path.join(out, "host.err")
        self.pos = 0
        self.lines = []
        self.markers = {}

    def on_start(self, pid):
        self.pid = pid
        self.stdout = open(self.json_path, "w")
        self.stderr = open(self.err_path, "w")
        self.host = subprocess.Popen(
            [HINTSTAT, "host", "-p", str(pid), "-j", "--guest", self.sock, "1"],
            stdout=self.stdout, stderr=self.stderr, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.host.poll() is None:
            if "Tracing" in self.err():
                break
            time.sleep(0.05)
        if "Tracing" not in self.err():
            self.host.wait(30)
            self.stdout.close()
            self.stderr.close()
            self.host = None
            return      # QEMU died at once (KVM failed): retried under TCG
        print(f"hintstat host attached to QEMU pid {pid}\n")
        print(f"{'time':>6}  {'phase':<26}{'guest':>7}{'host':>7}{'RSS':>7}"
              f"{'refault':>8}  stream   (MiB)")
        print(f"{'':>6}  {'':<26}{'hinted':>7}{'discrd':>7}{'':>7}"
              f"{'':>8}")

    def err(self):
        with open(self.err_path) as f:
            return f.read()

    def on_sample(self, now, kib, markers):
        self.markers = markers
        if not self.host:
            return
        with open(self.json_path) as f:
            f.seek(self.pos)
            chunk = f.read()
        done = chunk[:chunk.rfind("\n") + 1]
        self.pos += len(done)
        for line in done.splitlines():
            o = json.loads(line)
            self.lines.append(o)
            self.show(now, o)

    def show(self, now, o):
        t, g = o["total"], o["guest"]
        hinted = f"{g['hinted_bytes'] / MIB:7.0f}" if "hinted_bytes" in g else f"{'-':>7}"
        flag = g["stream"]
        if g.get("not_discarded_bytes"):
            flag += f"  DIVERGENCE {g['not_discarded_bytes'] / MIB:.0f} MiB: {g['reason']}"
        print(f"{now:6.1f}  {phase_of(self.markers):<26}{hinted}"
              f"{t['discarded_bytes'] / MIB:7.0f}{o['rss_bytes'] / MIB:7.0f}"
              f"{mib(t['refault_bytes']):>8}  {flag}", flush=True)

    def stop(self):
        if not self.host:
            return
        try:
            self.host.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.host.pid, signal.SIGINT)
            self.host.wait(10)
        self.stdout.close()
        self.stderr.close()
        with open(self.json_path) as f:
            self.lines = [json.loads(l) for l in f]


def guest_clock_problem(r):
    """Why the guest's own durations were not measured, or None: on a
    jiffies clock every duration the events carry is 0 or a 4 ms step."""
    cs = r.get("clocksource")
    if cs in pagehint_vm.JIFFY_CLOCKS:
        return f"the guest kernel ran on the {cs} clock, not its TSC"
    if r.get("clock_broken"):
        return "the guest kernel lost its TSC clock (\"Marking TSC unstable\")"
    return None


def ram_split(r):
    """QEMU's RSS at the runner's last sample of the guest RAM mapping's
    own Rss, split into that and QEMU's own memory (what no hinting can
    return), or why not."""
    ram = r.get("ram_rss") or []
    if not ram:
        return "guest RAM vs QEMU's own: - (no smaps sample of the RAM mapping)"
    t, ram_kib = ram[-1]
    rss_kib = [k for ts, k in r["rss"] if ts <= t][-1]
    return (f"of {rss_kib / 1024:.0f} MiB at {t:.1f} s, guest RAM "
            f"{ram_kib / 1024:.0f}, QEMU's own {(rss_kib - ram_kib) / 1024:.0f} "
            f"(/proc/PID/smaps)")


def summary(r, tour):
    out = r["outdir"]
    t = tour.lines[-1]["total"]
    up = [o["guest"] for o in tour.lines if o["guest"]["stream"] == "up"]
    with open(os.path.join(out, "vmstat.end")) as f:
        vm = dict(l.split() for l in f)
    reported = int(vm["page_hinting_reported"]) * 4096
    hist = {}
    for o in tour.lines:
        for b in o["hist"]["discard_ns"]:
            hist[b["min"], b["max"]] = hist.get((b["min"], b["max"]), 0) + b["count"]

    def pct(p):
        n, acc = sum(hist.values()), 0
        for (lo, hi), c in sorted(hist.items()):
            acc += c
            if n and acc >= p / 100 * n:
                return hi
        return None

    rss = [o["rss_bytes"] for o in tour.lines]
    print("\nSummary")
    print(f"  guest kernel reported {reported / MIB:.0f} MiB in its lifetime "
          f"(/proc/vmstat page_hinting_reported)")
    print(f"  QEMU discarded {t['discarded_bytes'] / MIB:.0f} MiB of guest RAM "
          f"in {t['discard_calls']} calls: "
          f"{'equal, to the byte' if reported == t['discarded_bytes'] else 'NOT EQUAL'}")
    print(f"  discard latency p50 <= {fmt_ns(pct(50))}, p99 <= {fmt_ns(pct(99))}; "
          f"{t['outside_bytes'] / MIB:.1f} MiB discarded outside guest RAM "
          f"(QEMU's heap) in {t['outside_calls']} calls")
    print(f"  refaults: {mib(t['refault_bytes'])} MiB of discarded guest RAM "
          f"resident again in QEMU (its pagemap)")
    print(f"  QEMU RSS: max {max(rss) / MIB:.0f} MiB, at the end "
          f"{rss[-1] / MIB:.0f} MiB; {ram_split(r)}")
    if up:
        g = up[-1]
        print(f"  joined stream: guest hinted {g['hinted_bytes'] / MIB:.0f} MiB "
              f"while streaming, host discarded {g['host_discarded_bytes'] / MIB:.0f} "
              f"MiB, {g['not_discarded_bytes'] / MIB:.0f} MiB not discarded")
    ev = tracefile.parse(open(os.path.join(out, "trace.txt"), errors="replace").read())
    lock = [e["lock_ns"] for e in ev if e.name in ("fill", "drain")]
    react = [e["duration_ns"] for e in ev if e.name == "react"]
    why = guest_clock_problem(r)
    if why and (lock or react):
        print(f"  guest: zone lock hold -, device call - (not measured: {why})")
    elif lock and react:
        print(f"  guest: zone lock hold p50 {fmt_ns(tracefile.percentile(lock, 50))}, "
              f"p99 {fmt_ns(tracefile.percentile(lock, 99))}; device call p50 "
              f"{fmt_ns(tracefile.percentile(react, 50))}, p99 "
              f"{fmt_ns(tracefile.percentile(react, 99))}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kernel", required=True)
    ap.add_argument("--initrd", required=True)
    ap.add_argument("--mib", type=int, default=300, help="MiB per cycle (300)")
    ap.add_argument("--rounds", type=int, default=3, help="cycles (3)")
    ap.add_argument("--mem", type=int, default=1024, help="guest MiB (1024)")
    ap.add_argument("--out", default=os.path.join(BUILD, "runs", "demo"))
    a = ap.parse_args()
    if a.mib <= 0 or a.rounds <= 0 or a.mib >= a.mem:
        print("demo: want 0 < --mib < --mem and --rounds > 0", file=sys.stderr)
        return 2
    if not os.path.exists(HINTSTAT):
        print(f"demo: {HINTSTAT} missing (hint: make tools)", file=sys.stderr)
        return 1
    os.makedirs(a.out, exist_ok=True)
    sock = os.path.join(a.out, "hintstat.sock")
    if os.path.exists(sock):
        os.unlink(sock)
    print(f"pagehint demo: a {a.mem} MiB guest allocates, touches and frees "
          f"{a.mib} MiB, {a.rounds} times;\nfree page reporting hands it back "
          f"to the host. Left: the guest's hintstat (over virtio-serial);\n"
          f"right: hintstat host on QEMU. Then the guest's stream stops.\n")
    tour = Tour(a.out, sock)
    try:
        r = pagehint_vm.run(a.kernel, a.initrd, "host-cycles", a.out, mem=a.mem,
                            env={"MIB": a.mib, "ROUNDS": a.rounds, "GONE_S": 4},
                            serial_socket=sock, on_start=tour.on_start,
                            on_sample=tour.on_sample, timeout=900)
    except pagehint_vm.UsageError as e:
        print(f"demo: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("demo: interrupted, VM torn down", file=sys.stderr)
        return 130
    finally:
        tour.stop()
    if not r["ok"]:
        print(f"demo: {r.get('error')} (results in {a.out})", file=sys.stderr)
        return 1
    if not tour.lines:
        print(f"demo: hintstat host printed nothing (see {tour.err_path})",
              file=sys.stderr)
        return 1
    summary(r, tour)
    print(f"\nraw results: {a.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
