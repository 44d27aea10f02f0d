"""make deb: the hintstat Debian package (packaging/).

- packaging/mkdeb.sh builds the package from build/bin/hintstat into a
  temporary directory; its file list is the one the tree says (the
  bpftrace scripts, fleet/rules/*.yml but the promtool tests,
  fleet/grafana/*.json), its version the binary's plus -1;
- dpkg installs it into a throwaway root (--root, maintainer scripts run
  chrootless with DPKG_ROOT set, so they touch nothing here; the host's
  dpkg database is never used), dpkg --verify checks what it unpacked,
  and the binary runs from there; the man page is the tree's, gzipped,
  and man renders it; lintian reports no error;
- each systemd unit runs the installed binary with the capabilities its
  comments explain, names only capabilities the kernel headers define,
  and systemd-analyze verify is silent on it; run with exactly those
  capabilities (setpriv, as root like the unit), each view works on
  this machine, and without the ones this machine can show it needs, it
  does not.
"""
import glob
import gzip
import hashlib
import os
import pathlib
import re
import shutil
import subprocess
import tempfile

import pytest

from conftest import BUILD, TOP, need
from hostlib import MIB, RAM_MIB, RAM_VMM, Lines, qemu_link

HINTSTAT = os.path.join(BUILD, "bin", "hintstat")
PKG = os.path.join(TOP, "packaging")
UNITS = {"hintstat-exporter.service": [],
         "hintstat-host-exporter.service": ["host"]}
CAPS = {"hintstat-exporter.service": {"CAP_BPF", "CAP_PERFMON", "CAP_SYSLOG"},
        "hintstat-host-exporter.service": {"CAP_BPF", "CAP_PERFMON",
                                           "CAP_SYS_PTRACE",
                                           "CAP_DAC_READ_SEARCH"}}


def run(*argv, timeout=60, **kw):
    return subprocess.run(argv, capture_output=True, text=True,
                          timeout=timeout, **kw)


@pytest.fixture(scope="module")
def deb(tmp_path_factory):
    out = tmp_path_factory.mktemp("deb")
    p = run(os.path.join(PKG, "mkdeb.sh"), need(HINTSTAT, "make tools"),
            str(out), timeout=120)
    assert p.returncode == 0, p.stdout + p.stderr
    debs = glob.glob(str(out / "*.deb"))
    assert len(debs) == 1, debs
    return debs[0]


@pytest.fixture(scope="module")
def root(deb, tmp_path_factory):
    """The package installed by dpkg into a fresh root of its own."""
    r = tmp_path_factory.mktemp("root")
    for d in ("info", "updates"):
        os.makedirs(r / "var/lib/dpkg" / d)
    (r / "var/lib/dpkg/status").touch()
    before = host_status()
    p = run("dpkg", f"--root={r}", "--force-not-root", "--force-depends",
            "--force-script-chrootless", "--log=/dev/null", "-i", deb)
    assert p.returncode == 0, p.stdout + p.stderr
    assert host_status() == before, "the host's dpkg database changed"
    return str(r)


def host_status():
    with open("/var/lib/dpkg/status", "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def version():
    p = run(need(HINTSTAT, "make tools"), "--version")
    assert p.returncode == 0, p.stderr
    return p.stdout.split()[-1]


def expected_files():
    files = {"etc/default/hintstat", "usr/sbin/hintstat",
             "usr/share/man/man8/hintstat.8.gz",
             "usr/share/doc/hintstat/copyright",
             "usr/share/doc/hintstat/changelog.Debian.gz",
             "usr/share/lintian/overrides/hintstat"}
    files |= {"usr/lib/systemd/system/" + u for u in UNITS}
    for pat, dest in (("tools/bpftrace/*.bt", "bpftrace"),
                      ("fleet/rules/*.yml", "rules"),
                      ("fleet/grafana/*.json", "grafana")):
        for f in glob.glob(os.path.join(TOP, pat)):
            if not f.endswith(".test.yml"):
                files.add(f"usr/share/hintstat/{dest}/{os.path.basename(f)}")
    return files


def test_contents_are_what_the_tree_has(deb):
    p = run("dpkg-deb", "--contents", deb)
    assert p.returncode == 0, p.stderr
    files = {}
    for line in p.stdout.splitlines():
        mode, owner, _, _, _, path = line.split(None, 5)
        assert owner == "root/root", line
        if mode.startswith("-"):
            files[path.removeprefix("./")] = mode
    assert set(files) == expected_files()
    assert files["usr/sbin/hintstat"] == "-rwxr-xr-x"
    assert files["etc/default/hintstat"] == "-rw-r--r--"


def test_control_fields(deb):
    def field(name):
        return run("dpkg-deb", "-f", deb, name).stdout.strip()

    assert field("Package") == "hintstat"
    assert field("Version") == version() + "-1"
    assert field("Architecture") == run("dpkg", "--print-architecture").stdout.strip()
    assert field("Depends") == ""           # static
    assert "bpftrace" in field("Suggests")
    # Built-Using names what is linked in (Debian policy 7.8).
    for src in ("glibc", "libbpf", "elfutils", "zlib", "jansson"):
        assert re.search(rf"\b{src} \(= ", field("Built-Using")), src
    conf = run("dpkg-deb", "-I", deb, "conffiles").stdout.split()
    assert conf == ["/etc/default/hintstat"]


def test_dpkg_installs_it_in_a_throwaway_root(root):
    p = run("dpkg", f"--root={root}", "-s", "hintstat")
    assert "Status: install ok installed" in p.stdout, p.stdout + p.stderr
    # Every file unpacked matches the package's md5sums.
    p = run("dpkg", f"--root={root}", "--verify", "hintstat")
    assert p.returncode == 0 and not p.stdout, p.stdout + p.stderr


def test_installed_binary_runs(root):
    exe = os.path.join(root, "usr/sbin/hintstat")
    p = run(exe, "--version")
    assert p.returncode == 0 and p.stdout.strip() == f"hintstat {version()}"
    p = run(exe, "--help")
    assert p.returncode == 0 and p.stdout.startswith("Usage: hintstat")
    p = run(exe, "host", "--help")
    assert p.returncode == 0 and p.stdout.startswith("Usage: hintstat host")
    # Stripped, and static: nothing for the dynamic loader to find.
    p = run("readelf", "-S", "-l", exe)
    assert ".debug_info" not in p.stdout and ".symtab" not in p.stdout
    assert "INTERP" not in p.stdout


def test_man_page(root):
    path = os.path.join(root, "usr/share/man/man8/hintstat.8.gz")
    with open(path, "rb") as f:
        head = f.read(10)
    assert head[:2] == b"\x1f\x8b"
    assert head[4:8] == bytes(4), "gzip -n: no timestamp"
    with gzip.open(path) as f, open(os.path.join(TOP, "tools/hintstat/hintstat.8"), "rb") as g:
        assert f.read() == g.read()
    if not shutil.which("man"):
        pytest.skip("man not installed")
    p = run("man", "-l", path, env={**os.environ, "MANWIDTH": "80",
                                    "MANPAGER": "cat", "PAGER": "cat"})
    assert p.returncode == 0, p.stderr
    assert "hintstat - show free page reporting" in p.stdout
    assert "HOST MODE" in p.stdout


def test_lintian_has_no_error(deb):
    lintian = need(shutil.which("lintian") or "/usr/bin/lintian",
                   "make deps (scripts/deps.sh installs lintian)")
    p = run(lintian, deb, timeout=120)
    errors = [l for l in p.stdout.splitlines() if l.startswith("E:")]
    assert not errors and p.returncode == 0, p.stdout + p.stderr


def unit(root, name):
    """{section: [(key, value)]} of an installed unit."""
    out, sec = {}, None
    with open(os.path.join(root, "usr/lib/systemd/system", name)) as f:
        for line in f:
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            if line.startswith("["):
                sec = out.setdefault(line.strip("[]"), [])
            else:
                k, v = line.split("=", 1)
                sec.append((k, v))
    return out


def one(items, key):
    vals = [v for k, v in items if k == key]
    assert len(vals) == 1, (key, vals)
    return vals[0]


def kernel_caps():
    with open("/usr/include/linux/capability.h") as f:
        return set(re.findall(r"^#define (CAP_[A-Z_]+)\s+\d+", f.read(), re.M))


def default_opts(root):
    """The defaults /etc/default/hintstat shows, commented out."""
    with open(os.path.join(root, "etc/default/hintstat")) as f:
        return dict(re.findall(r'^#(HINTSTAT_\w+)="(.*)"$', f.read(), re.M))


@pytest.mark.parametrize("name", sorted(UNITS))
def test_unit(root, name):
    s = unit(root, name)["Service"]
    argv = one(s, "ExecStart").split()
    assert argv[0] == "/usr/sbin/hintstat"
    assert os.access(os.path.join(root, argv[0].lstrip("/")), os.X_OK)
    var = "HINTSTAT_HOST_OPTS" if UNITS[name] else "HINTSTAT_OPTS"
    assert argv[1:] == UNITS[name] + ["$" + var]
    env = one(s, "Environment").strip('"')
    assert env.startswith(var + "=") and "--prom :967" in env
    assert default_opts(root)[var] == env.split("=", 1)[1]
    assert one(s, "EnvironmentFile") == "-/etc/default/hintstat"
    bounding = set(one(s, "CapabilityBoundingSet").split())
    assert bounding == set(one(s, "AmbientCapabilities").split()) == CAPS[name]
    assert bounding <= kernel_caps()
    for k, v in (("NoNewPrivileges", "yes"), ("ProtectSystem", "strict"),
                 ("ProtectHome", "yes"), ("PrivateTmp", "yes"),
                 ("Restart", "on-failure"), ("StandardOutput", "null")):
        assert one(s, k) == v
    assert one(unit(root, name)["Install"], "WantedBy") == "multi-user.target"


def test_systemd_analyze_verify(root, tmp_path):
    exe = shutil.which("systemd-analyze")
    if not exe:
        pytest.skip("no systemd-analyze")
    paths = []
    for name in UNITS:
        with open(os.path.join(root, "usr/lib/systemd/system", name)) as f:
            text = f.read()
        (tmp_path / name).write_text(text.replace(
            "/usr/sbin/hintstat", os.path.join(root, "usr/sbin/hintstat")))
        paths.append(str(tmp_path / name))
    # Documentation=man:hintstat(8) is looked up by man, in the root.
    p = run(exe, "verify", *paths,
            env={**os.environ, "MANPATH": os.path.join(root, "usr/share/man")})
    assert p.returncode == 0 and not (p.stdout + p.stderr).strip(), \
        p.stdout + p.stderr


def with_caps(caps, argv, **kw):
    """argv as root with only caps, as systemd runs the unit."""
    c = ",".join(["-all"] + ["+" + x.removeprefix("CAP_").lower()
                             for x in sorted(caps)])
    return run("setpriv", f"--inh-caps={c}", f"--ambient-caps={c}",
               f"--bounding-set={c}", *argv, **kw)


def unit_caps(root, name):
    return set(one(unit(root, name)["Service"], "CapabilityBoundingSet").split())


def kallsyms_hidden_without_syslog():
    p = with_caps(set(), ["head", "-1", "/proc/kallsyms"])
    return p.stdout.startswith("0000000000000000")


def test_guest_view_runs_with_the_units_capabilities(root, tmp_path):
    exe = os.path.join(root, "usr/sbin/hintstat")
    caps = unit_caps(root, "hintstat-exporter.service")
    prom = tmp_path / "m.prom"
    p = with_caps(caps, [exe, "--prom", str(prom), "0.3", "2"])
    assert p.returncode == 0, p.stderr
    assert "pagehint_passes_total" in prom.read_text()
    for cap in ("CAP_BPF", "CAP_PERFMON"):
        q = with_caps(caps - {cap}, [exe, "--prom", str(prom), "0.3", "1"])
        assert q.returncode == 1 and "missing capabilities" in q.stderr
    # CAP_SYSLOG: the tracepoint-only mode finds the work function in
    # /proc/kallsyms, which shows no address without it here.
    if "mode: tracepoint-only" not in p.stderr or not kallsyms_hidden_without_syslog():
        pytest.skip("this kernel needs no kallsyms address here")
    q = with_caps(caps - {"CAP_SYSLOG"}, [exe, "--prom", str(prom), "0.3", "1"])
    assert q.returncode == 1 and "kallsyms" in q.stderr, q.stderr


def test_host_view_runs_with_the_units_capabilities(root, tmp_path):
    """On a stand-in VMM of another user (nobody), as libvirt runs QEMU."""
    exe = os.path.join(root, "usr/sbin/hintstat")
    caps = unit_caps(root, "hintstat-host-exporter.service")
    # pytest's tmp_path is root's alone: nobody runs a link elsewhere.
    home = tempfile.mkdtemp(prefix="test_deb.")
    os.chmod(home, 0o755)
    vmm = subprocess.Popen(
        [qemu_link(pathlib.Path(home)), "-c", RAM_VMM, "4k", str(RAM_MIB * MIB),
         "-m", f"{RAM_MIB}M"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        text=True, user=65534, group=65534, cwd="/")
    try:
        Lines(vmm.stdout).wait(lambda l: l.startswith("ready"), 60, "ready")
        prom = tmp_path / "h.prom"
        argv = [exe, "host", "-p", str(vmm.pid), "--prom", str(prom), "0.3", "2"]
        p = with_caps(caps, argv)
        assert p.returncode == 0, p.stderr
        assert "unknown" not in p.stderr, p.stderr
        text = prom.read_text()
        assert "pagehint_host_rss_bytes" in text
        assert re.search(r"^pagehint_host_refault_bytes_total \d+$", text, re.M)
        # Its pagemap is nobody's, mode 0400.
        q = with_caps(caps - {"CAP_DAC_READ_SEARCH"}, argv)
        assert q.returncode == 0 and "refaults unknown" in q.stderr, q.stderr
        for cap in ("CAP_BPF", "CAP_PERFMON"):
            q = with_caps(caps - {cap}, argv)
            assert q.returncode == 1 and "missing capabilities" in q.stderr
    finally:
        vmm.kill()
        vmm.wait()
        shutil.rmtree(home)
