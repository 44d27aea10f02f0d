#!/usr/bin/python3
"""Host-side overhead of `hintstat host`: the cost per traced syscall.

A stand-in VMM (a child process with an anonymous "guest RAM" mapping)
does what QEMU does for each free page report: madvise(MADV_DONTNEED) on
a 2 MiB range of its RAM, then touches the range again (the guest
reallocating it, so every page refaults). A second workload calls
madvise on ranges that are not resident, to isolate the syscall and the
tracing cost. Each runs for a fixed time, alternately untraced and with
`hintstat host -p PID --ram SIZE` attached, ROUNDS times; the result is
calls per second, the ratio traced/untraced and the added ns per call.

    /usr/bin/python3 bench/host_overhead.py [--seconds S] [--rounds N]
                                            [--out FILE]

Writes a JSON result (default build/bench/host_overhead.json) and prints
a table. Needs root (BPF) and build/bin/hintstat (make tools).
"""
import argparse
import ctypes
import json
import mmap
import os
import statistics
import subprocess
import sys
import time

TOP = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BUILD", os.path.join(TOP, "build"))
HINTSTAT = os.path.join(BUILD, "bin", "hintstat")
RAM_MIB = 258           # unusual size: the only mapping hintstat matches
CHUNK = 2 << 20
PAGE = 4096


def guest_ram(size):
    """size bytes between PROT_NONE guard pages, as QEMU maps guest RAM:
    a mapping of its own that the kernel never merges with a neighbour."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mmap.restype = ctypes.c_void_p
    libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int,
                          ctypes.c_int, ctypes.c_int, ctypes.c_long]
    libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
    base = libc.mmap(None, size + 2 * PAGE, 0,    # PROT_NONE
                     mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, -1, 0)
    if base in (None, ctypes.c_void_p(-1).value):
        raise OSError(ctypes.get_errno(), "mmap")
    if libc.mprotect(base + PAGE, size, mmap.PROT_READ | mmap.PROT_WRITE):
        raise OSError(ctypes.get_errno(), "mprotect")
    return libc, base + PAGE


def workload(kind, seconds):
    """The child: map RAM, say ready, wait for go, loop, print calls."""
    size = RAM_MIB << 20
    libc, ram = guest_ram(size)
    if kind == "discard":
        libc.memset(ram, 1, size)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    sys.stdin.readline()
    calls, off, end = 0, 0, time.monotonic() + seconds
    while time.monotonic() < end:
        for _ in range(64):
            if libc.madvise(ram + off, CHUNK, mmap.MADV_DONTNEED):
                raise OSError(ctypes.get_errno(), "madvise")
            if kind == "discard":
                libc.memset(ram + off, 1, CHUNK)    # refault every page
            off = (off + CHUNK) % size
            calls += 1
    print(calls)


def one(kind, seconds, traced):
    child = subprocess.Popen([sys.executable, __file__, "--child", kind,
                              "--seconds", str(seconds)],
                             stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                             text=True)
    tracer = None
    try:
        assert child.stdout.readline().strip() == "ready"
        if traced:
            tracer = subprocess.Popen(
                [HINTSTAT, "host", "-p", str(child.pid), "--ram", f"{RAM_MIB}M",
                 "-j", "60"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                text=True)
            # Attached once it says so on stderr.
            seen = [tracer.stderr.readline()]
            while seen[-1] and "Tracing" not in seen[-1]:
                seen.append(tracer.stderr.readline())
            if not seen[-1]:
                raise RuntimeError("hintstat host did not attach: "
                                   + "".join(seen))
        child.stdin.write("go\n")
        child.stdin.flush()
        calls = int(child.stdout.readline())
        child.wait(30)
    finally:
        if child.poll() is None:
            child.kill()
    counted = None
    if tracer:
        out, _ = tracer.communicate(timeout=30)     # exits with its VMM
        last = json.loads(out.splitlines()[-1])
        counted = last["total"]["madvise_calls"] + last["total"]["outside_calls"]
    return calls / seconds, counted, calls


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", default=os.path.join(BUILD, "bench", "host_overhead.json"))
    ap.add_argument("--child", help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a.child:
        workload(a.child, a.seconds)
        return 0
    if a.seconds <= 0 or a.rounds < 1:
        print("host_overhead: --seconds and --rounds must be positive", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("host_overhead: must be run as root (hint: sudo)", file=sys.stderr)
        return 1
    if not os.path.exists(HINTSTAT):
        print(f"host_overhead: {HINTSTAT} missing (hint: make tools)", file=sys.stderr)
        return 1
    res = {"seconds": a.seconds, "rounds": a.rounds, "ram_mib": RAM_MIB,
           "chunk_bytes": CHUNK, "workloads": {}}
    for kind in ("discard", "syscall"):
        base, traced, missed = [], [], 0
        for _ in range(a.rounds):
            base.append(one(kind, a.seconds, False)[0])
            rate, counted, calls = one(kind, a.seconds, True)
            traced.append(rate)
            missed += calls - counted      # every call must be counted
        b, t = statistics.median(base), statistics.median(traced)
        res["workloads"][kind] = {
            "untraced_calls_per_s": base, "traced_calls_per_s": traced,
            "ratio": t / b, "added_ns_per_call": (1 / t - 1 / b) * 1e9,
            "calls_not_counted": missed}
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(res, f, indent=1)
    print(f"{'workload':<10} {'untraced/s':>11} {'traced/s':>10} {'ratio':>7} "
          f"{'+ns/call':>9}")
    for kind, w in res["workloads"].items():
        print(f"{kind:<10} {statistics.median(w['untraced_calls_per_s']):>11.0f} "
              f"{statistics.median(w['traced_calls_per_s']):>10.0f} "
              f"{w['ratio']:>7.3f} {w['added_ns_per_call']:>9.0f}")
    print(f"(median of {a.rounds}; discard = madvise 2 MiB + refault it, "
          f"syscall = madvise of a non-resident 2 MiB; results in {a.out})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
