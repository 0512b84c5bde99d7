"""Connection handlers: a line-echo server (PythonConnectionHandler),
mod_python 4 side by side with mod_python 3.5, the same handler in each.

Each server is its own httpd (bench/run.py's setting: event MPM, one child
of 16 threads, pinned to CPU 0).  The client, this script, pinned to CPU 1,
keeps N persistent connections, each sending M lines one at a time and
waiting for each echo (epoll, one process).  Rounds are interleaved.
Figures: echoes per second, and server CPU per echo (utime+stime of the
parent and child from /proc, over the echoes), the steadier of the two on
a shared machine; ratios are from one run.

Usage: /usr/bin/python3 bench/conn_echo.py [--conns N] [--lines M] [--rounds R]
"""
import argparse
import os
import select
import socket
import statistics
import sys
import time

from common import MP35_MODULE, ONE_CHILD, cpu_seconds, environment, server

# 3.5's readline() raises IOError at the end of the input where ours gives
# b"": the handler takes both, so that it is the same code in both servers.
ECHO = '''
from mod_python import apache

def connectionhandler(conn):
    try:
        while True:
            line = conn.readline()
            if not line:
                return apache.OK
            conn.write(line)
    except IOError:
        return apache.OK
'''

CONF = 'PythonPath "sys.path + [\'{app}\']"\nPythonConnectionHandler echo_bench\n'

LINE = b"the quick brown fox jumps over the lazy dog 0123456789\n"


def echo_servers():
    return {
        "mp4": server("echo4", {"echo_bench.py": ECHO}, CONF, mpm_settings=ONE_CHILD),
        "mp35": server("echo35", {"echo_bench.py": ECHO}, CONF, python_module=MP35_MODULE,
                       env={"PYTHONPATH": ""}, mpm_settings=ONE_CHILD),
    }


def drive(port, conns, lines):
    """N connections, each M round trips of one line; (echoes, seconds)."""
    ep = select.epoll()
    socks, left, got = {}, {}, {}
    for _ in range(conns):
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        s.setblocking(False)
        socks[s.fileno()] = s
        left[s.fileno()] = lines
        got[s.fileno()] = b""
        ep.register(s.fileno(), select.EPOLLIN)
    t0 = time.perf_counter()
    for fd, s in socks.items():
        s.send(LINE)
    done = 0
    while done < conns:
        for fd, _ in ep.poll():
            data = got[fd] + socks[fd].recv(65536)
            if not data:
                raise RuntimeError("the server closed a connection")
            if len(data) < len(LINE):
                got[fd] = data
                continue
            if data != LINE:
                raise RuntimeError("bad echo %r" % data[:100])
            got[fd] = b""
            left[fd] -= 1
            if left[fd]:
                socks[fd].send(LINE)
            else:
                done += 1
    took = time.perf_counter() - t0
    for s in socks.values():
        ep.unregister(s.fileno())
        s.close()
    ep.close()
    return conns * lines, took


def check(h):
    s = socket.create_connection(("127.0.0.1", h.port), timeout=10)
    try:
        s.sendall(LINE)
        data = b""
        while len(data) < len(LINE):
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    if data != LINE:
        raise RuntimeError("%s does not echo (%r):\n%s" % (h.name, data, h.log()[-2000:]))


def measure(h, conns, lines):
    drive(h.port, conns, max(lines // 10, 1))  # warm up
    c0 = cpu_seconds(h)
    n, took = drive(h.port, conns, lines)
    return (cpu_seconds(h) - c0) / n * 1e6, n / took


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--conns", type=int, default=8)
    ap.add_argument("--lines", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    os.sched_setaffinity(0, {1})
    s = echo_servers()
    cpu = {k: [] for k in s}
    rate = {k: [] for k in s}
    try:
        for h in s.values():
            h.start()
            check(h)
        for rnd in range(args.rounds):
            for k, h in s.items():
                c, r = measure(h, args.conns, args.lines)
                cpu[k].append(c)
                rate[k].append(r)
                print("round %d %-5s %6.1f µs/echo %8.0f echoes/s" % (rnd + 1, k, c, r),
                      file=sys.stderr)
    finally:
        for h in s.values():
            h.cleanup()
    env = environment()
    c4, c35 = statistics.median(cpu["mp4"]), statistics.median(cpu["mp35"])
    r4, r35 = statistics.median(rate["mp4"]), statistics.median(rate["mp35"])
    print("Connection handler, line echo: %d connections x %d lines, %d rounds "
          "(medians); %s, %s, Python %s" % (args.conns, args.lines, args.rounds,
                                            env["httpd"], env["machine"], env["python"]))
    print("| server | echoes/s | server CPU per echo |")
    print("| --- | ---: | ---: |")
    print("| mod_python 4 | %.0f | %.1f µs |" % (r4, c4))
    print("| mod_python 3.5 | %.0f | %.1f µs |" % (r35, c35))
    print("| ratio 4 / 3.5 | %.2f | %.2f |" % (r4 / r35, c4 / c35))


if __name__ == "__main__":
    main()
