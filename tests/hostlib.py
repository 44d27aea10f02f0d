"""Helpers for tests that run hintstat host on this machine: a stand-in
VMM whose every discard is known in advance, line readers that wait on a
condition with a deadline (never a fixed sleep), a free TCP port and a
guest stream served on a unix socket as QEMU's chardev does.
"""
import json
import os
import queue
import socket
import subprocess
import sys
import threading
import time

from conftest import TOP

MIB = 1 << 20
RAM_MIB = 66

# The stand-in VMM: guest RAM between guard pages (bench/host_overhead.py
# maps it the same way), no THP so that every touched page faults once.
# It waits for a line on stdin before its discards and before exiting.
FAKE_VMM = r'''
import ctypes, mmap, os, sys, tempfile
sys.path.insert(0, %(bench)r)
from host_overhead import guest_ram
MIB, PAGE = 1 << 20, 4096
libc, ram = guest_ram(%(ram)d * MIB)
libc.madvise(ram, %(ram)d * MIB, 15)            # MADV_NOHUGEPAGE
libc.memset(ram, 1, %(ram)d * MIB)
heap = mmap.mmap(-1, MIB)
heap[:] = bytes(MIB)
f = tempfile.TemporaryFile()
f.truncate(MIB)
print("ready", flush=True)
sys.stdin.readline()
for off in (0, 4, 8):                           # 3 MiB inside, DONTNEED
    assert libc.madvise(ram + off * MIB, MIB, 4) == 0
assert libc.madvise(ram + 16 * MIB, 2 * MIB, 8) == 0    # 2 MiB, MADV_FREE
assert libc.madvise(ram + 1, MIB, 4) != 0       # unaligned: EINVAL
assert libc.madvise(0x10001, MIB, 4) != 0       # failed, outside guest RAM
assert libc.madvise(ram + 20 * MIB, MIB, 20) == 0       # MADV_COLD: no discard
heap.madvise(mmap.MADV_DONTNEED, 0, MIB)        # the VMM's own heap
os.posix_fallocate(f.fileno(), 0, MIB)
libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long, ctypes.c_long]
assert libc.fallocate(f.fileno(), 3, 0, 65536) == 0     # PUNCH_HOLE|KEEP_SIZE
for i in range(10):                             # refault 10 discarded pages
    libc.memset(ram + i * PAGE, 2, 1)
libc.memset(ram + 30 * MIB, 2, 1)               # never discarded: no fault
print("done", flush=True)
sys.stdin.readline()
'''


class Lines:
    """The lines of a text stream, read by a thread, waited for with a
    deadline: wait(pred) returns the first new line pred accepts."""

    def __init__(self, stream):
        self.q = queue.Queue()
        self.all = []
        self.t = threading.Thread(target=self._run, args=(stream,),
                                  daemon=True)
        self.t.start()

    def _run(self, stream):
        for line in stream:
            self.q.put(line)
        self.q.put(None)

    def wait(self, pred, timeout=30, what="a line"):
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {what} within {timeout} s: "
                                     f"{''.join(self.all)[-2000:]}")
            try:
                line = self.q.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise AssertionError(f"stream ended before {what}: "
                                     f"{''.join(self.all)[-2000:]}")
            self.all.append(line)
            if pred(line):
                return line

    def rest(self, timeout=30):
        """Everything up to the end of the stream (the process exited)."""
        self.t.join(timeout)
        assert not self.t.is_alive(), "stream still open"
        while True:
            line = self.q.get_nowait() if not self.q.empty() else None
            if line is None:
                return "".join(self.all)
            self.all.append(line)


def wait_for(cond, timeout=30, what="the condition", step=0.01):
    """Poll cond() until it is true, or fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} not met within {timeout} s")
        time.sleep(step)


class FakeVmm:
    """The stand-in VMM as a context manager: .go() runs its discards and
    waits for them, .exit() ends it; killed on the way out."""

    def __init__(self, *argv, ram=RAM_MIB):
        code = FAKE_VMM % {"bench": os.path.join(TOP, "bench"), "ram": ram}
        self.p = subprocess.Popen([sys.executable, "-c", code] + list(argv),
                                  stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True)
        self.out = Lines(self.p.stdout)
        self.pid = self.p.pid

    def __enter__(self):
        self.out.wait(lambda l: l.strip() == "ready", 60, "ready")
        return self

    def _say(self):
        self.p.stdin.write("go\n")
        self.p.stdin.flush()

    def go(self):
        self._say()
        self.out.wait(lambda l: l.strip() == "done", 60, "done")

    def exit(self):
        self._say()
        self.p.wait(30)

    def __exit__(self, *exc):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


def kill_all(*procs):
    for p in procs:
        if p is not None and p.poll() is None:
            p.kill()
            p.wait()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class GuestStream:
    """A unix socket served as QEMU's chardev does: hintstat host
    connects, the test writes the guest's lines."""

    def __init__(self, path):
        self.path = path
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(path)
        self.srv.listen(1)
        self.srv.settimeout(30)
        self.conn = None

    def accept(self):
        self.conn, _ = self.srv.accept()

    def send(self, data):
        self.conn.sendall(data)

    def total(self, total, failed=0, mode="tracepoints"):
        """One line of the guest's hintstat -j with these totals."""
        self.send(json.dumps({"version": 1, "mode": mode, "bytes": 0,
                              "total": {"bytes": total,
                                        "failed_bytes": failed,
                                        "zones": []}},
                             separators=(",", ":")).encode() + b"\n")

    def close(self):
        if self.conn:
            self.conn.close()
            self.conn = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        self.srv.close()


# A stand-in VMM driven line by line, for the refault figure: its guest
# RAM is anonymous with THP ("thp": 2 MiB aligned, MADV_HUGEPAGE),
# anonymous without ("4k", MADV_NOHUGEPAGE) or a memfd mapped shared
# ("memfd", the fd kept open as QEMU's memory-backend-memfd does). It
# fills its RAM, prints "ready ADDR", then answers each command with "ok":
# "dontneed OFF LEN", "punch OFF LEN" (fallocate PUNCH_HOLE|KEEP_SIZE on
# the memfd), "touch OFF" (writes one byte), "fill OFF LEN", "exit".
# Several RAM blocks (sizes "A,B,..."; a memfd each, as QEMU's memory
# backends are): "ready ADDR,ADDR,...", and OFF counts through the
# blocks one after the other, as guest-physical addresses would;
# "plug SIZE" maps one more block and says "plugged ADDR" before its ok;
# "advise OFF LEN ADVICE" is any other madvise.
RAM_VMM = r'''
import ctypes, mmap, os, sys
kind, sizes = sys.argv[1], [int(x) for x in sys.argv[2].split(",")]
libc = ctypes.CDLL(None, use_errno=True)
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int,
                      ctypes.c_int, ctypes.c_int, ctypes.c_long]
libc.mprotect.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
libc.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
libc.memset.argtypes = [ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t]
libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_long,
                           ctypes.c_long]
HUGE, RW = 2 << 20, mmap.PROT_READ | mmap.PROT_WRITE
blocks = []                                     # (addr, size, fd)


def plug(i, size):
    fd = -1
    if kind == "memfd":
        fd = os.memfd_create(f"guest-ram{i}", 0)
        os.ftruncate(fd, size)
        ram = libc.mmap(None, size, RW, mmap.MAP_SHARED, fd, 0)
    else:
        # PROT_NONE around it: a mapping of its own, 2 MiB aligned.
        base = libc.mmap(None, size + 2 * HUGE, 0,
                         mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS, -1, 0)
        ram = (base + HUGE) & ~(HUGE - 1)
        assert libc.mprotect(ram, size, RW) == 0
        assert libc.madvise(ram, size, 14 if kind == "thp" else 15) == 0
    assert ram not in (None, ctypes.c_void_p(-1).value)
    libc.memset(ram, 1, size)
    blocks.append((ram, size, fd))


for i, size in enumerate(sizes):
    plug(i, size)


def at(off):
    """The block of offset off, and off within it."""
    for ram, size, fd in blocks:
        if off < size:
            return ram, fd, off
        off -= size
    raise ValueError(off)


print("ready", ",".join(hex(b[0]) for b in blocks), flush=True)
for line in sys.stdin:
    cmd, *a = line.split()
    a = [int(x) for x in a]
    ram, fd, off = at(a[0]) if a else (0, -1, 0)
    if cmd == "dontneed":
        assert libc.madvise(ram + off, a[1], 4) == 0
    elif cmd == "punch":
        assert libc.fallocate(fd, 3, off, a[1]) == 0
    elif cmd == "touch":
        libc.memset(ram + off, 2, 1)
    elif cmd == "fill":
        libc.memset(ram + off, 3, a[1])
    elif cmd == "advise":                       # madvise OFF LEN ADVICE
        assert libc.madvise(ram + off, a[1], a[2]) == 0
    elif cmd == "plug":                         # a block hotplugged
        plug(len(blocks), a[0])
        print("plugged", hex(blocks[-1][0]), flush=True)
    elif cmd == "exit":
        break
    print("ok", flush=True)
'''


def smaps_of(pid, addr):
    """The /proc/PID/smaps fields (kB) of the mapping that starts at
    addr: an independent view of what the VMM has resident."""
    fields, inside = {}, False
    with open(f"/proc/{pid}/smaps") as f:
        for line in f:
            head = line.split()[0]
            if "-" in head and not head.endswith(":"):
                if inside:
                    break
                inside = int(head.split("-")[0], 16) == addr
            elif inside and line.split()[-1] == "kB":
                fields[head.rstrip(":")] = int(line.split()[1])
    assert fields, f"no mapping at {addr:#x} in /proc/{pid}/smaps"
    return fields


class RamVmm:
    """RAM_VMM as a context manager: .do("touch 4096") waits for its ok."""

    def __init__(self, kind, ram=RAM_MIB, argv0=sys.executable, extra=()):
        """ram: MiB, or a list of MiB, one per block; argv0: the program
        to run it as (a link named like a VMM); extra: more arguments,
        which the stand-in ignores (a VMM's command line)."""
        sizes = ram if isinstance(ram, (list, tuple)) else [ram]
        self.p = subprocess.Popen(
            [argv0, "-c", RAM_VMM, kind,
             ",".join(str(m * MIB) for m in sizes), *extra],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.out = Lines(self.p.stdout)
        self.pid = self.p.pid

    def __enter__(self):
        line = self.out.wait(lambda l: l.startswith("ready"), 60, "ready")
        self.addrs = [int(a, 16) for a in line.split()[1].split(",")]
        self.addr = self.addrs[0]
        return self

    def do(self, *cmds):
        for c in cmds:
            self.p.stdin.write(c + "\n")
            self.p.stdin.flush()
            self.out.wait(lambda l: l.strip() == "ok", 30, f"ok for {c}")

    def smaps_kb(self, field):
        """An smaps field summed over its RAM blocks, kB."""
        return sum(smaps_of(self.pid, a).get(field, 0) for a in self.addrs)

    def rss_kb(self):
        return self.smaps_kb("Rss")

    def exit(self):
        self.p.stdin.write("exit\n")
        self.p.stdin.flush()
        self.p.wait(30)

    def __exit__(self, *exc):
        if self.p.poll() is None:
            self.p.kill()
            self.p.wait()


def qemu_link(tmp_path, name="qemu-system-pagehint"):
    """A link named like QEMU to this Python: a stand-in run through it
    has comm qemu-system-pag (15 characters), so hintstat host reads its
    command line as QEMU's, and -n qemu-system-pag picks the stand-ins
    only (not a real QEMU that happens to run)."""
    link = tmp_path / name
    if not link.exists():
        link.symlink_to(sys.executable)
    return str(link)
