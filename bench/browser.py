#!/usr/bin/python3
"""Check a static page in headless Chromium (Debian's chromium package):
it renders, every plot has data points, and the console stays clean.
Keeps a screenshot.

  bench/browser.py PAGE.html [--screenshot FILE.png]

Exit 0 when the page is fine, 1 with the reasons otherwise.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile

CONSOLE_RE = re.compile(r"CONSOLE\(\d+\)\]|console\.(error|warn)|Uncaught|"
                        r":ERROR:CONSOLE", re.I)


def chromium():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        p = shutil.which(name)
        if p:
            return p
    raise SystemExit("browser: chromium not found (hint: scripts/deps-bench.sh "
                     "or apt-get install chromium)")


def run(page, *flags, timeout=120):
    """Run headless Chromium on a file; (stdout, stderr)."""
    prof = tempfile.mkdtemp(prefix="pagehint-chromium.")
    try:
        cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu",
               "--no-first-run", "--disable-extensions", "--disable-sync",
               "--disable-background-networking", "--disable-component-update",
               f"--user-data-dir={prof}", "--enable-logging=stderr", "--v=0",
               "--window-size=1300,3000", *flags, "file://" + os.path.abspath(page)]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                           env=dict(os.environ, HOME=prof))
        return p.stdout, p.stderr
    finally:
        shutil.rmtree(prof, ignore_errors=True)


def console_messages(stderr):
    return [l for l in stderr.splitlines() if "CONSOLE" in l or "Uncaught" in l]


def inspect(page, screenshot=None):
    """The rendered DOM, console lines, and problems found."""
    dom, err = run(page, "--dump-dom", "--virtual-time-budget=3000")
    problems = []
    cons = console_messages(err)
    if cons:
        problems.append("console: " + " | ".join(cons))
    m = re.search(r"<body[^>]*>", dom)
    body = m.group(0) if m else ""
    plots = re.search(r'data-plots="(\d+)"', body)
    empty = re.search(r'data-empty="([^"]*)"', body)
    if not plots:
        problems.append("the page's check script did not run (no data-plots on body)")
    elif int(plots.group(1)) == 0:
        problems.append("no plot on the page")
    if empty and empty.group(1):
        problems.append(f"plots without data: {empty.group(1)}")
    if screenshot:
        os.makedirs(os.path.dirname(os.path.abspath(screenshot)), exist_ok=True)
        if os.path.exists(screenshot):
            os.unlink(screenshot)
        _, err2 = run(page, f"--screenshot={os.path.abspath(screenshot)}")
        if not os.path.exists(screenshot) or os.path.getsize(screenshot) < 1000:
            problems.append(f"no screenshot written to {screenshot}")
        cons2 = console_messages(err2)
        if cons2 and not cons:
            problems.append("console: " + " | ".join(cons2))
    return dom, cons, problems


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("page")
    ap.add_argument("--screenshot")
    a = ap.parse_args()
    if not os.path.isfile(a.page):
        print(f"browser: {a.page} not found (hint: make dashboard)", file=sys.stderr)
        return 1
    dom, cons, problems = inspect(a.page, a.screenshot)
    n = re.search(r'data-plots="(\d+)"', dom)
    if problems:
        for p in problems:
            print(f"browser: {p}", file=sys.stderr)
        return 1
    print(f"browser: {a.page} renders in Chromium, {n.group(1)} plots with data, "
          f"console clean" + (f", screenshot {a.screenshot}" if a.screenshot else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
