"""Handlers that return values httpd must not get from a content handler
(issue 10, item 5): figures, not a test.

One httpd (event MPM, one child of 16 threads, MaxRequestWorkers 16):
CLIENTS concurrent clients send requests to handlers that return -3
(httpd's SUSPENDED), raise SERVER_RETURN(-3), or return -102; then a plain
handler is asked.  Before the fix each such request held its connection
(and, with enough of them, every worker) until the client gave up; now
each is a 500 at once.  Prints per kind: requests, statuses, timeouts,
time, and the time the plain request then took.

Usage: /usr/bin/python3 bench/suspended.py [--requests N] [--clients N]
"""
import argparse
import collections
import http.client
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "test", "integration"))
from harness import Httpd, one_child  # noqa: E402

APP = """
from mod_python import apache
def suspended(req):
    return -3
def raised(req):
    raise apache.SERVER_RETURN(-3)
def filter_error(req):
    return -102
def ok(req):
    req.write("ok")
    return apache.OK
"""

CONF = """
Timeout 5
<Directory {app}>
    SetHandler mod_python
    PythonHandler app::ok
    <Files suspended>
        PythonHandler app::suspended
    </Files>
    <Files raised>
        PythonHandler app::raised
    </Files>
    <Files filter_error>
        PythonHandler app::filter_error
    </Files>
</Directory>
"""


def one(port, path, timeout):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        r.read()
        return str(r.status)
    except OSError as e:
        return "timeout" if "timed out" in str(e) else type(e).__name__
    finally:
        c.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=200)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--timeout", type=float, default=3.0)
    a = ap.parse_args()
    h = Httpd("event", prefix="mp-bench-")
    try:
        h.write("htdocs/app/app.py", APP)
        h.config(CONF.format(app=h.path("htdocs", "app")), mpm_settings=one_child("event"))
        h.start()
        print("| handler | requests | statuses | time | plain request after |")
        print("| --- | ---: | --- | ---: | ---: |")
        for kind in ("suspended", "raised", "filter_error"):
            t0 = time.time()
            with ThreadPoolExecutor(a.clients) as ex:
                out = list(ex.map(lambda _: one(h.port, "/app/" + kind, a.timeout),
                                  range(a.requests)))
            took = time.time() - t0
            t1 = time.time()
            plain = one(h.port, "/app/ok", a.timeout)
            counts = ", ".join("%s x%d" % kv for kv in sorted(collections.Counter(out).items()))
            print("| %s | %d | %s | %.2f s | %s in %.1f ms |" % (
                kind, a.requests, counts, took, plain, (time.time() - t1) * 1000))
    finally:
        h.cleanup()


if __name__ == "__main__":
    main()
