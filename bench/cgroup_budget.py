"""A host memory budget for the density experiment: a child memory cgroup
with a hard limit that the QEMU processes are started in.

cgroup v2 (memory.max; truth: memory.events 'max' and 'oom_kill',
memory.peak) where the v2 hierarchy has the memory controller, else
cgroup v1 (memory.limit_in_bytes; truth: memory.oom_control 'oom_kill',
memory.failcnt, memory.max_usage_in_bytes). No swap is allowed (v2
memory.swap.max=0, v1 memsw where present), so exceeding the budget
means an OOM kill in the group, never a slow guest.
"""
import os


def _v2_root():
    for line in open("/proc/self/mounts"):
        dev, mnt, fstype = line.split()[:3]
        if fstype == "cgroup2":
            try:
                with open(os.path.join(mnt, "cgroup.controllers")) as f:
                    if "memory" in f.read().split():
                        return mnt
            except OSError:
                pass
    return None


def _v1_root():
    for line in open("/proc/self/mounts"):
        dev, mnt, fstype, opts = line.split()[:4]
        if fstype == "cgroup" and "memory" in opts.split(","):
            return mnt
    return None


class Cgroup:
    def __init__(self, name, limit_bytes):
        v2 = _v2_root()
        if v2:
            self.v = 2
            self.path = os.path.join(v2, name)
            os.makedirs(self.path)
            self._w("memory.max", limit_bytes)
            if os.path.exists(os.path.join(self.path, "memory.swap.max")):
                self._w("memory.swap.max", 0)
        else:
            v1 = _v1_root()
            if not v1:
                raise SystemExit("density: no memory cgroup (v2 with the memory "
                                 "controller, or v1) mounted")
            self.v = 1
            self.path = os.path.join(v1, name)
            os.makedirs(self.path)
            self._w("memory.limit_in_bytes", limit_bytes)
            if os.path.exists(os.path.join(self.path, "memory.memsw.limit_in_bytes")):
                self._w("memory.memsw.limit_in_bytes", limit_bytes)
        self.limit = limit_bytes

    def _w(self, f, v):
        with open(os.path.join(self.path, f), "w") as fh:
            fh.write(f"{v}\n")

    def _r(self, f):
        with open(os.path.join(self.path, f)) as fh:
            return fh.read()

    def _kv(self, f):
        return {k: int(v) for k, v in (l.split() for l in self._r(f).splitlines())}

    def enter(self):
        """preexec_fn: move the calling (child) process into the group."""
        self._w("cgroup.procs", os.getpid())

    def usage(self):
        return int(self._r("memory.current" if self.v == 2 else "memory.usage_in_bytes"))

    def oom_kills(self):
        if self.v == 2:
            return self._kv("memory.events").get("oom_kill", 0)
        return self._kv("memory.oom_control").get("oom_kill", 0)

    def exceeded(self):
        return self.oom_kills() > 0

    def stats(self):
        if self.v == 2:
            ev = self._kv("memory.events")
            peak = (int(self._r("memory.peak"))
                    if os.path.exists(os.path.join(self.path, "memory.peak")) else None)
            return {"cgroup": 2, "oom_kill": ev.get("oom_kill", 0),
                    "max_events": ev.get("max", 0),
                    "peak_mib": peak >> 20 if peak is not None else None,
                    "limit_mib": self.limit >> 20}
        return {"cgroup": 1, "oom_kill": self.oom_kills(),
                "max_events": int(self._r("memory.failcnt")),
                "peak_mib": int(self._r("memory.max_usage_in_bytes")) >> 20,
                "limit_mib": self.limit >> 20}

    def remove(self):
        for _ in range(50):
            try:
                os.rmdir(self.path)
                return
            except OSError:
                import time
                time.sleep(0.2)
