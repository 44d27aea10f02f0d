#!/usr/bin/python3
"""The dashboard's charting library, uPlot, from the npm registry, pinned
and verified: the tarball's SHA-512 must equal the integrity string npm
publishes for that version (`npm view uplot@VERSION dist.integrity`).
Fetched once into build/jslib/ and inlined into the page at build time,
so the page needs no network to view.

  bench/jslib.py            fetch (when missing) and print the cached path

Set NPM_REGISTRY to use a mirror.
"""
import base64
import hashlib
import io
import os
import sys
import tarfile
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from benchlib import BUILD  # noqa: E402

NAME = "uplot"
VERSION = "1.6.32"
INTEGRITY = ("sha512-KIMVnG68zvu5XXUbC4LQEPnhwOxBuLyW1AHtpm6IKTXImkbLgkMy+"
             "jabjLgSLMasNuGGzQm/ep3tOkyTxpiQIw==")
# What the page inlines, from the package's dist/ (MIT, LICENSE kept).
FILES = ("package/dist/uPlot.iife.min.js", "package/dist/uPlot.min.css",
         "package/LICENSE")


class JslibError(Exception):
    pass


def registry():
    return os.environ.get("NPM_REGISTRY", "https://registry.npmjs.org").rstrip("/")


def cache_dir():
    return os.path.join(BUILD, "jslib", f"{NAME}-{VERSION}")


def verify(blob, integrity=INTEGRITY):
    algo, _, want = integrity.partition("-")
    if algo != "sha512":
        raise JslibError(f"unsupported integrity algorithm {algo!r}")
    got = base64.b64encode(hashlib.sha512(blob).digest()).decode()
    if got != want:
        raise JslibError(f"{NAME}-{VERSION}.tgz: SHA-512 {got[:16]}... does not "
                         f"match the pinned integrity {want[:16]}...")


def extract(blob, dest):
    os.makedirs(dest, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:gz") as tar:
        for name in FILES:
            try:
                m = tar.getmember(name)
            except KeyError:
                raise JslibError(f"{NAME}-{VERSION}.tgz has no {name}")
            data = tar.extractfile(m).read()
            tmp = os.path.join(dest, os.path.basename(name) + ".tmp")
            with open(tmp, "wb") as f:
                f.write(data)
            os.replace(tmp, os.path.join(dest, os.path.basename(name)))
    with open(os.path.join(dest, "integrity"), "w") as f:
        f.write(INTEGRITY + "\n")


def fetch(timeout=60):
    """The cached directory, fetched and verified when missing."""
    dest = cache_dir()
    stamp = os.path.join(dest, "integrity")
    if os.path.exists(stamp) and open(stamp).read().strip() == INTEGRITY:
        return dest
    url = f"{registry()}/{NAME}/-/{NAME}-{VERSION}.tgz"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            blob = r.read(16 << 20)
    except OSError as e:
        raise JslibError(f"cannot fetch {url}: {e} (hint: the npm registry must be "
                         "reachable once, or set NPM_REGISTRY to a mirror)")
    verify(blob)
    extract(blob, dest)
    return dest


def assets():
    """(javascript, css, license text) to inline."""
    d = fetch()

    def read(n):
        with open(os.path.join(d, n), encoding="utf-8") as f:
            return f.read()
    return read("uPlot.iife.min.js"), read("uPlot.min.css"), read("LICENSE")


def main():
    try:
        d = fetch()
    except JslibError as e:
        print(f"jslib: {e}", file=sys.stderr)
        return 1
    print(f"jslib: {NAME} {VERSION} in {d} (integrity {INTEGRITY[:23]}...)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
