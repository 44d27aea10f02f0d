"""The kernel series: applies to a fresh linux-source-6.12, passes
checkpatch --strict, and ships the trace header of tracepoints/ verbatim."""
import os
import re
import subprocess

import pytest

from conftest import BUILD, TOP

pytestmark = pytest.mark.kernel

KDIR = os.path.join(TOP, "kernel")
TARBALL = os.environ.get("LINUX_TARBALL", "/usr/src/linux-source-6.12.tar.xz")
KTREE = os.path.join(BUILD, "src", "linux-6.12")


def series():
    with open(os.path.join(KDIR, "series")) as f:
        return [l.strip() for l in f if l.strip() and not l.startswith("#")]


def touched(patch):
    with open(os.path.join(KDIR, patch)) as f:
        text = f.read()
    old = re.findall(r"^--- a/(\S+)", text, re.M)
    new = re.findall(r"^\+\+\+ b/(\S+)", text, re.M)
    return old, new


def created_by(patch):
    """Files the patch creates (diffed against /dev/null)."""
    with open(os.path.join(KDIR, patch)) as f:
        return re.findall(r"^--- /dev/null\n\+\+\+ b/(\S+)", f.read(), re.M)


@pytest.fixture(scope="module")
def fresh_tree(tmp_path_factory):
    """The files the series touches, straight from Debian's tarball."""
    assert os.path.exists(TARBALL), f"{TARBALL} missing (hint: make deps)"
    d = tmp_path_factory.mktemp("linux")
    # Files an earlier patch of the series creates are not in the tarball.
    created = {f for p in series() for f in created_by(p)}
    files = sorted({f for p in series() for f in touched(p)[0]} - created)
    top = subprocess.run(["tar", "-tJf", TARBALL], capture_output=True,
                         text=True, check=True).stdout.split("\n", 1)[0].split("/")[0]
    subprocess.run(["tar", "-xJf", TARBALL, "-C", str(d), "--strip-components=1"]
                   + [f"{top}/{f}" for f in files], check=True)
    return d


def test_series_is_complete():
    names = series()
    assert names, "empty series"
    assert sorted(n for n in os.listdir(KDIR) if n.endswith(".patch")) == sorted(names)
    for n in names:
        with open(os.path.join(KDIR, n)) as f:
            text = f.read()
        assert text.startswith("From ") and "\nSubject: [PATCH" in text, n


def test_series_applies_to_fresh_tree(fresh_tree):
    for p in series():
        r = subprocess.run(["patch", "-p1", "--forward", "-i", os.path.join(KDIR, p)],
                           cwd=fresh_tree, capture_output=True, text=True)
        assert r.returncode == 0, f"{p}:\n{r.stdout}{r.stderr}"
        assert "offset" not in r.stdout and "fuzz" not in r.stdout, r.stdout
    # tracepoints/ is the single source of truth for the trace header.
    with open(os.path.join(TOP, "tracepoints", "page_hinting.h")) as a, \
            open(fresh_tree / "include/trace/events/page_hinting.h") as b:
        assert a.read() == b.read()


@pytest.mark.parametrize("patch", series())
def test_checkpatch_strict(patch):
    script = os.path.join(KTREE, "scripts", "checkpatch.pl")
    assert os.path.exists(script), "kernel tree missing (hint: make kernel)"
    # spdxcheck.py needs Debian's python3-ply: /usr/bin first in PATH.
    env = dict(os.environ, PATH="/usr/bin:" + os.environ.get("PATH", ""))
    # --no-signoff: the series carries no Signed-off-by (no invented
    # identity certifies the DCO); whoever posts it adds their own.
    r = subprocess.run(["perl", script, "--strict", "--color=never",
                        "--no-signoff", os.path.join(KDIR, patch)],
                       cwd=KTREE, capture_output=True, text=True, env=env)
    out = r.stdout + r.stderr
    assert "Traceback" not in out, out
    m = re.search(r"total: (\d+) errors, (\d+) warnings, (\d+) checks", out)
    assert m, out
    assert (m[1], m[2]) == ("0", "0"), out
    # CHECKs are allowed only for the TRACE_EVENT() layout every upstream
    # trace header has (checkpatch reads the macro as a function call),
    # and for calls to the PageReported() flag helpers.
    checks = re.findall(r"^CHECK: (.*)\n#\d+: FILE: (\S+):", out, re.M)
    assert len(checks) == int(m[3]), out
    for msg, path in checks:
        if path.startswith("include/trace/events/"):
            assert msg in ("Alignment should match open parenthesis",
                           "Lines should not end with a '('"), (msg, path)
        else:
            # The page-flag helpers are the kernel's own CamelCase API.
            assert re.fullmatch(r"Avoid CamelCase: <__(Set|Clear)?PageReported>",
                                msg), (msg, path)


@pytest.mark.parametrize("patch", series())
def test_no_invented_signoff(patch):
    with open(os.path.join(KDIR, patch)) as f:
        tags = re.findall(r"^(Signed-off-by|Co-developed-by|Reviewed-by|"
                          r"Acked-by|Tested-by):.*$", f.read(), re.M)
    assert not tags, tags
