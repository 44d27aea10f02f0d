"""hintstat's --prom [HOST]:PORT responder (tools/hintstat/http.c), on
hintstat host watching the stand-in VMM: idle and slow clients never
delay an interval, HEAD says the length GET sends, the bind address is
the one given, and bad requests get their status.
"""
import json
import os
import socket
import subprocess
import threading
import time

import pytest

from conftest import BUILD, need
from hostlib import RAM_MIB, FakeVmm, Lines, free_port, kill_all

HINTSTAT = os.path.join(BUILD, "bin", "hintstat")
INTERVAL = 0.1
# How late an interval may come with 50 idle clients and a slow one.
MAX_DELAY = 0.010


@pytest.fixture
def served():
    """hintstat host -j --prom ADDR INTERVAL on an idle stand-in VMM:
    start(addr, interval) returns (port, stdout Lines)."""
    procs = []

    def start(addr="127.0.0.1", interval=INTERVAL):
        vmm = FakeVmm().__enter__()
        port = free_port()
        # Real-time priority: what is measured is the tool's own delay,
        # not the wait for a CPU on a machine busy with other work.
        host = subprocess.Popen(
            ["chrt", "-f", "10",
             need(HINTSTAT, "make tools"), "host", "-p", str(vmm.pid), "--ram",
             f"{RAM_MIB}M", "-j", "--prom", f"{addr}:{port}", str(interval)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.extend([vmm.p, host])
        Lines(host.stderr).wait(lambda l: "Tracing" in l, 60, "Tracing")
        return port, Lines(host.stdout)
    yield start
    kill_all(*procs)


def request(port, data, host="127.0.0.1", family=socket.AF_INET):
    """Send data, read the answer to its end: (head, body)."""
    with socket.socket(family) as s:
        s.settimeout(10)
        s.connect((host, port))
        s.sendall(data)
        got = b""
        while chunk := s.recv(65536):
            got += chunk
    head, _, body = got.partition(b"\r\n\r\n")
    return head.decode(), body


def content_length(head):
    for line in head.split("\r\n"):
        if line.lower().startswith("content-length:"):
            return int(line.split(":")[1])
    raise AssertionError(head)


def slow_get(port, result):
    """A client that sends its request a byte every 20 ms."""
    with socket.socket() as s:
        s.settimeout(10)
        s.connect(("127.0.0.1", port))
        for b in b"GET /metrics HTTP/1.0\r\n\r\n":
            s.sendall(bytes([b]))
            time.sleep(0.02)
        got = b""
        while chunk := s.recv(65536):
            got += chunk
        result.append(got)


def worst_delay(out, n):
    """How far the worst of n consecutive intervals was off, in s."""
    ts = [json.loads(out.wait(lambda l: True, 30, "an interval"))["ts"]
          for _ in range(n)]
    return max(abs(b - a - INTERVAL) for a, b in zip(ts, ts[1:]))


def test_idle_and_slow_clients_do_not_delay_the_intervals(served):
    """What the clients add to the intervals' delay: the worst interval
    with 50 idle clients and one sending a byte every 20 ms, less the
    worst of a window just before without them (what the machine's own
    load does to a real-time task)."""
    port, out = served("")
    out.wait(lambda l: True, 30, "a first interval")
    alone = worst_delay(out, 11)
    idle = [socket.create_connection(("127.0.0.1", port), timeout=10)
            for _ in range(50)]
    slow = []
    t = threading.Thread(target=slow_get, args=(port, slow), daemon=True)
    try:
        t.start()
        # 2 s of intervals while 50 clients idle and one dribbles.
        late = worst_delay(out, int(2 / INTERVAL))
        head, body = request(port, b"GET /metrics HTTP/1.0\r\n\r\n")
        t.join(30)
    finally:
        for s in idle:
            s.close()
    print(f"intervals of {INTERVAL} s: worst off by {late * 1e3:.2f} ms with "
          f"50 idle clients and a slow one, {alone * 1e3:.2f} ms without")
    assert late - alone <= MAX_DELAY
    assert head.startswith("HTTP/1.0 200 OK") and b"pagehint_host_rss_bytes" in body
    assert slow and slow[0].startswith(b"HTTP/1.0 200 OK\r\n"), slow


def test_more_clients_than_the_table_still_served(served):
    """70 idle clients (the table holds 64): the oldest are closed for
    the new, and a GET after them is answered."""
    port, _ = served()
    idle = [socket.create_connection(("127.0.0.1", port), timeout=10)
            for _ in range(70)]
    try:
        head, body = request(port, b"GET /metrics HTTP/1.0\r\n\r\n")
        assert head.startswith("HTTP/1.0 200 OK"), head
        # The first ones were closed: they read EOF, not a hang.
        idle[0].settimeout(10)
        assert idle[0].recv(1) == b""
    finally:
        for s in idle:
            s.close()


def test_head_says_the_length_get_sends(served):
    # A long interval: the RSS gauge does not change between the two.
    port, _ = served("", 30)
    head, body = request(port, b"GET /metrics HTTP/1.0\r\n\r\n")
    assert content_length(head) == len(body) > 0
    hhead, hbody = request(port, b"HEAD /metrics HTTP/1.0\r\n\r\n")
    assert hhead.startswith("HTTP/1.0 200 OK") and hbody == b""
    assert content_length(hhead) == len(body)


@pytest.mark.parametrize("req, status", [
    (b"POST /metrics HTTP/1.0\r\n\r\n", "405"),
    (b"GET /other HTTP/1.0\r\n\r\n", "404"),
    (b"GET /metricsx HTTP/1.0\r\n\r\n", "404"),
    (b"GET\r\n\r\n", "400"),
    (b"GET /metrics\0 HTTP/1.0\r\n\r\n", "404"),
    (b"X" * 3000, "400"),
], ids=["post", "other", "prefix", "no-target", "nul", "too-long"])
def test_bad_requests_get_their_status(served, req, status):
    port, _ = served(interval=30)
    head, _ = request(port, req)
    assert head.startswith(f"HTTP/1.0 {status} "), head


def listening(path, port):
    """Local addresses (hex, as /proc/net/tcp*) listening on port."""
    with open(path) as f:
        rows = [l.split() for l in f.readlines()[1:]]
    return {r[1].split(":")[0] for r in rows
            if int(r[1].split(":")[1], 16) == port and r[3] == "0A"}


def test_binds_the_given_address(served):
    port, _ = served("127.0.0.1", 30)
    assert listening("/proc/net/tcp", port) == {"0100007F"}
    assert listening("/proc/net/tcp6", port) == set()
    port, _ = served("[::1]", 30)
    assert listening("/proc/net/tcp", port) == set()
    assert listening("/proc/net/tcp6", port) == {
        "00000000000000000000000001000000"}     # ::1, per 32-bit word
    head, _ = request(port, b"GET /metrics HTTP/1.0\r\n\r\n", "::1",
                      socket.AF_INET6)
    assert head.startswith("HTTP/1.0 200 OK")
    port, _ = served("", 30)            # :PORT, every address
    assert listening("/proc/net/tcp6", port) == {"0" * 32}


@pytest.mark.parametrize("arg", ["1.2.3.300:80", "[::1:80", "[::1]:0",
                                 "127.0.0.1:", "localhost:70000", "[zz]:80"])
def test_invalid_bind_address_is_a_usage_error(arg):
    p = subprocess.run([need(HINTSTAT, "make tools"), "host", "--prom", arg],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 2, p.stderr
    assert f"invalid --prom '{arg}'" in p.stderr
