"""Debian's Prometheus servers for the tests, on loopback: started,
waited for with a deadline, queried over the HTTP API."""
import json
import shutil
import subprocess
import urllib.parse
import urllib.request

from conftest import need
from hostlib import kill_all, wait_for


def server(name):
    return need(shutil.which(name) or f"/usr/bin/{name}",
                "make test (scripts/deps.sh installs it)")


def get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.read().decode()


def started(proc, url, what):
    """Wait until url answers (the server is up), or fail with its log."""
    def up():
        assert proc.poll() is None, f"{what} exited: {proc.stderr.read()[-2000:]}"
        try:
            get(url, timeout=1)
            return True
        except OSError:
            return False
    wait_for(up, 30, f"{what} on {url}", step=0.1)


def query(port, expr, t=None):
    """An instant PromQL query: {labels-as-tuple: value}."""
    q = {"query": expr}
    if t is not None:
        q["time"] = f"{t:.3f}"
    body = json.loads(get(f"http://127.0.0.1:{port}/api/v1/query?"
                          + urllib.parse.urlencode(q)))
    assert body["status"] == "success", body
    return {tuple(sorted(r["metric"].items())): float(r["value"][1])
            for r in body["data"]["result"]}


def node_exporter(port, textdir):
    """node_exporter on 127.0.0.1:port with only the textfile collector,
    reading textdir; returned once it answers."""
    ne = subprocess.Popen(
        [server("prometheus-node-exporter"),
         f"--web.listen-address=127.0.0.1:{port}",
         "--collector.disable-defaults", "--collector.textfile",
         f"--collector.textfile.directory={textdir}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        started(ne, f"http://127.0.0.1:{port}/metrics", "node_exporter")
    except BaseException:
        kill_all(ne)
        raise
    return ne


def start_prometheus(tmp_path, port, jobs, later=None):
    """Debian's prometheus on 127.0.0.1:port scraping every second the
    jobs {name: port} on loopback; returned once every target is up.
    later: more jobs, whose targets start after this returns."""
    cfg = tmp_path / "prometheus.yml"
    cfg.write_text("global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
                   "scrape_configs:\n" + "".join(
                       f"  - job_name: {job}\n    static_configs: "
                       f"[{{targets: ['127.0.0.1:{p}']}}]\n"
                       for job, p in {**jobs, **(later or {})}.items()))
    prom = subprocess.Popen(
        [server("prometheus"), f"--config.file={cfg}",
         f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        started(prom, f"http://127.0.0.1:{port}/-/ready", "prometheus")
        wait_for(lambda: len(query(port, "up == 1")) == len(jobs), 30,
                 "every target up")
    except BaseException:
        kill_all(prom)
        raise
    return prom


def promtool(*args, stdin=None):
    exe = server("promtool")
    return subprocess.run([exe, *args], input=stdin, capture_output=True,
                          text=True, timeout=60)


def check_metrics(text):
    """promtool check metrics is clean on text; the text."""
    assert text.strip(), "no metrics"
    p = promtool("check", "metrics", stdin=text)
    assert p.returncode == 0, p.stdout + p.stderr
    return text
