"""Request bodies and long tracebacks (issue 10, items 6 and 7): figures,
no assertions.

  * a body of --size MB with no newline, read by one req.readline() and,
    for comparison, by one req.read(): seconds inside the handler, MB/s
    (the client sends from memory over loopback as fast as it can) and the
    child's peak RSS after each;
  * a handler raising from --depth distinct frames with PythonDebug On:
    the size of the error page, the time to get it, and the child's RSS
    and peak RSS (VmHWM) before and after.

One httpd (event MPM, one child of 16 threads) on 127.0.0.1, started from
the build tree as in bench/run.py.

Usage: /usr/bin/python3 bench/body.py [--size MB] [--depth FRAMES]
"""
import argparse
import http.client
import os
import socket
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "test", "integration"))
from harness import Httpd, one_child  # noqa: E402

MIB = 1 << 20

APP = '''
import os, sys, time
from mod_python import apache

def reply(req, text):
    req.content_type = "text/plain"
    req.write(text)
    return apache.OK

def readline(req):
    t = time.perf_counter()
    n = len(req.readline())
    return reply(req, "%d %.6f" % (n, time.perf_counter() - t))

def read(req):
    t = time.perf_counter()
    n = len(req.read())
    return reply(req, "%d %.6f" % (n, time.perf_counter() - t))

def a(n):
    if n == 0:
        raise RuntimeError("bottom")
    return b(n - 1)  # a and b alternate: no "[Previous line repeated]"

def b(n):
    return a(n - 1)

def deep(req):
    depth = int(req.args)
    sys.setrecursionlimit(max(sys.getrecursionlimit(), depth + 200))
    return a(depth)

def memory(req):
    with open("/proc/self/statm") as f:
        rss = int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    with open("/proc/self/status") as f:
        hwm = [int(l.split()[1]) * 1024 for l in f if l.startswith("VmHWM:")][0]
    return reply(req, "%d %d" % (rss, hwm))
'''

CONF = """
LimitRequestBody 0
Timeout 600
<Directory {app}>
    SetHandler mod_python
    PythonHandler body::memory
    <Files readline>
        PythonHandler body::readline
    </Files>
    <Files read>
        PythonHandler body::read
    </Files>
    <Files deep>
        PythonDebug On
        PythonHandler body::deep
    </Files>
</Directory>
"""


def post(h, path, size):
    """POST `size` bytes without a newline: (the handler's count, its
    seconds, wall seconds)."""
    piece = b"z" * MIB
    t = time.perf_counter()
    s = socket.create_connection(("127.0.0.1", h.port), timeout=3600)
    try:
        s.sendall(b"POST %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                  b"Content-Length: %d\r\n\r\n" % (path.encode(), size))
        left = size
        while left:
            s.sendall(piece[:min(left, MIB)])
            left -= min(left, MIB)
        r = http.client.HTTPResponse(s)
        r.begin()
        out = r.read()
    finally:
        s.close()
    n, took = out.split()
    return int(n), float(took), time.perf_counter() - t


def memory(h):
    rss, hwm = h.get("/app/memory").body.split()
    return int(rss), int(hwm)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=64, help="body size, MB")
    ap.add_argument("--depth", type=int, default=20000, help="traceback frames")
    args = ap.parse_args()
    h = Httpd("event", prefix="mp-bench-body-")
    try:
        h.write("htdocs/app/body.py", APP)
        h.config(CONF.format(app=h.path("htdocs", "app")), loglevel="warn",
                 mpm_settings=one_child("event"))
        h.start()
        memory(h)
        print("| figure | value |\n| --- | ---: |")
        # the traceback first: the bodies would raise the peak RSS
        rss0, hwm0 = memory(h)
        t = time.perf_counter()
        r = h.get("/app/deep?%d" % args.depth, timeout=3600)
        took = time.perf_counter() - t
        rss1, hwm1 = memory(h)
        print("| PythonDebug page for %d frames | status %d, %.0f KB, %.2f s |"
              % (args.depth, r.status, len(r.body) / 1024, took))
        print("| child RSS before / after it | %.1f MB / %.1f MB (%+.1f MB) |"
              % (rss0 / 1e6, rss1 / 1e6, (rss1 - rss0) / 1e6))
        print("| child peak RSS (VmHWM) before / after it | %.1f MB / %.1f MB (%+.1f MB) |"
              % (hwm0 / 1e6, hwm1 / 1e6, (hwm1 - hwm0) / 1e6))
        size = args.size * MIB
        # read() first: its peak RSS is the lower one
        for what in ("read", "readline"):
            n, took, wall = post(h, "/app/" + what, size)
            hwm = memory(h)[1]
            print("| req.%s() of %d MB, no newline | %.2f s in the handler, %.0f MB/s "
                  "(%.2f s wall), child peak RSS %.0f MB%s |"
                  % (what, args.size, took, args.size / took, wall, hwm / 1e6,
                     "" if n == size else ", got %d bytes" % n))
    finally:
        h.cleanup()


if __name__ == "__main__":
    main()
