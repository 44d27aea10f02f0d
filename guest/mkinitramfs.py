#!/usr/bin/python3
"""Build the pagehint guest initramfs (a gzip'd newc cpio).

Contents: busybox-static with its applet links, guest/init, the project's
static binaries, and, for a stock distribution kernel, the modules needed
for virtio-pci, the balloon and 9p, resolved through modules.dep and
listed in load order for init to insmod.

Usage:
  mkinitramfs.py -o OUT.cpio.gz [--bin FILE]... [--modules DIR --module NAME]...
"""
import argparse
import gzip
import lzma
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
BUSYBOX = "/bin/busybox"


def die(msg, hint=None):
    print(f"mkinitramfs: {msg}", file=sys.stderr)
    if hint:
        print(f"hint: {hint}", file=sys.stderr)
    sys.exit(1)


def module_closure(moddir, names):
    """Modules to load, dependencies first, for the given module names.

    Names already built into the kernel (modules.builtin) are dropped.
    """
    deps = {}
    with open(os.path.join(moddir, "modules.dep")) as f:
        for line in f:
            path, _, rest = line.partition(":")
            deps[path] = rest.split()
    builtin = set()
    try:
        with open(os.path.join(moddir, "modules.builtin")) as f:
            builtin = {l.strip() for l in f}
    except FileNotFoundError:
        pass

    def base(p):
        b = os.path.basename(p)
        for ext in (".xz", ".zst", ".gz"):
            if b.endswith(ext):
                b = b[: -len(ext)]
        return b[: -len(".ko")].replace("-", "_")

    by_name = {base(p): p for p in deps}
    builtin_names = {base(p) for p in builtin}
    order = []

    def visit(path):
        if path in order:
            return
        for d in deps[path]:
            visit(d)
        order.append(path)

    for n in names:
        key = n.replace("-", "_")
        if key in builtin_names:
            continue
        if key not in by_name:
            die(f"module {n} not in {moddir}/modules.dep",
                "is this the right kernel's module tree?")
        visit(by_name[key])
    return order


def add_modules(root, moddir, names):
    order = module_closure(moddir, names)
    dest = os.path.join(root, "lib/modules")
    os.makedirs(dest, exist_ok=True)
    listed = []
    for rel in order:
        src = os.path.join(moddir, rel)
        name = os.path.basename(rel)
        if name.endswith(".xz"):
            data = lzma.open(src).read()
            name = name[:-3]
        elif name.endswith(".zst"):
            data = subprocess.run(["zstd", "-dc", src], check=True,
                                  capture_output=True).stdout
            name = name[:-4]
        else:
            with open(src, "rb") as f:
                data = f.read()
        with open(os.path.join(dest, name), "wb") as f:
            f.write(data)
        listed.append(name)
    with open(os.path.join(dest, "load.list"), "w") as f:
        f.write("".join(n + "\n" for n in listed))
    return listed


def build(out, bins, moddir, modules):
    if not os.access(BUSYBOX, os.X_OK):
        die(f"{BUSYBOX} not found", "apt-get install busybox-static")
    with tempfile.TemporaryDirectory() as root:
        for d in ("bin", "sbin", "usr/bin", "usr/sbin", "proc", "sys", "dev",
                  "mnt", "tmp", "lib/modules"):
            os.makedirs(os.path.join(root, d), exist_ok=True)
        shutil.copy(BUSYBOX, os.path.join(root, "bin/busybox"))
        applets = subprocess.run([BUSYBOX, "--list-full"], check=True,
                                 capture_output=True, text=True).stdout
        for a in applets.split():
            link = os.path.join(root, a)
            if not os.path.lexists(link):
                os.makedirs(os.path.dirname(link), exist_ok=True)
                os.symlink("/bin/busybox", link)
        shutil.copy(os.path.join(HERE, "init"), os.path.join(root, "init"))
        os.chmod(os.path.join(root, "init"), 0o755)
        for b in bins:
            if not os.path.isfile(b):
                die(f"binary {b} not found", "run make first")
            shutil.copy(b, os.path.join(root, "bin", os.path.basename(b)))
        if moddir:
            add_modules(root, moddir, modules)
        files = subprocess.run(["find", "."], cwd=root, check=True,
                               capture_output=True).stdout
        cpio = subprocess.run(["cpio", "--quiet", "-o", "-H", "newc",
                               "--owner=0:0"], cwd=root, input=files,
                              check=True, capture_output=True).stdout
    tmp = out + ".tmp"
    with gzip.open(tmp, "wb", compresslevel=6) as f:
        f.write(cpio)
    os.replace(tmp, out)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("-o", "--out", required=True)
    ap.add_argument("--bin", action="append", default=[])
    ap.add_argument("--modules", help="a kernel's /lib/modules/VERSION")
    ap.add_argument("--module", action="append", default=[])
    a = ap.parse_args()
    if a.module and not a.modules:
        ap.error("--module needs --modules DIR")
    build(a.out, a.bin, a.modules, a.module)


if __name__ == "__main__":
    main()
