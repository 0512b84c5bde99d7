"""mod_python.publisher hello world: server CPU per request, mod_python 4
beside mod_python 3.5 (Debian's libapache2-mod-python, its own
publisher.py), each in its own httpd, one run.

The page is the same for both, a function returning a 14-byte str:

    def index(req):
        return "Hello, world!\\n"

published at /app/hello.py (the URL names the file) and /app/hello (the
publisher finds hello.py itself); both servers answer text/plain with a
Content-Length.  For scale, each module's plain hello world handler
(bench/run.py's, no publisher) runs in the same rounds.  Servers as in
bench/run.py: event MPM, one child of 16 threads, httpd pinned to CPU 0,
wrk -t1 -c8 to CPU 1, rounds interleaved; the figure is utime+stime of
the httpd parent and child (from /proc) per request wrk completed.  On a
shared machine absolute figures swing; the ratios of one run hold.

Usage: /usr/bin/python3 bench/publisher.py [--seconds N] [--rounds N]
"""
import statistics
import sys
import time

from common import HELLO, MP35_MODULE, cpu_seconds, round_args, server, wrk

BODY = b"Hello, world!\n"
PAGE = 'def index(req):\n    return "Hello, world!\\n"\n'

# publisher.handler(req) called in a loop inside one request (req.filename
# put back each time, as the handler rewrites it): the publisher's own
# Python cost, without httpd's.  Logged at warning level.
LOOP = '''
import time
from mod_python import apache, publisher
N = 2000
def handler(req):
    fn = req.filename
    best = None
    for _ in range(5):
        t = time.perf_counter_ns()
        for _ in range(N):
            req.filename = fn
            publisher.handler(req)
        ns = (time.perf_counter_ns() - t) / N
        best = ns if best is None else min(best, ns)
    req.log_error("PUBLISHER_NS %.0f" % best, apache.APLOG_WARNING)
    return apache.OK
'''

PUBLISHER = """<Directory {app}/loop>
    PythonHandler looper
</Directory>
<Directory {app}>
    SetHandler mod_python
    PythonHandler mod_python.publisher
</Directory>
<Directory {app}/plain>
    PythonHandler plainhello
</Directory>
"""

# (row label, server key, URL)
ROWS = [
    ("plain handler (no publisher), for scale", "/app/plain/x"),
    ("publisher, /app/hello.py", "/app/hello.py"),
    ("publisher, /app/hello", "/app/hello"),
]
MODULES = [("mod_python 4", "mp4", {}),
           ("mod_python 3.5", "mp35", {"python_module": MP35_MODULE,
                                       "env": {"PYTHONPATH": ""}})]


def servers():
    return {key: server("pub-" + key, {"hello.py": PAGE, "plain/plainhello.py": HELLO,
                                           "loop/hello.py": PAGE, "loop/looper.py": LOOP},
                        PUBLISHER, **kw)
            for _, key, kw in MODULES}


def check(h, url):
    r = h.get(url)
    if r.status != 200 or r.body != BODY or r.headers["Content-Type"] != "text/plain" \
            or r.headers.get("Content-Length") != str(len(BODY)):
        raise RuntimeError("%s %s: %d %r %s\n%s" % (h.name, url, r.status, r.body[:200],
                                                    dict(r.headers), h.log()[-3000:]))


def measure(h, url, seconds):
    wrk(h, 1, url)   # warm up
    c0 = cpu_seconds(h)
    t0 = time.time()
    reqs = wrk(h, seconds, url)
    took = time.time() - t0
    return (cpu_seconds(h) - c0) / reqs * 1e6, reqs / took


def in_process(h):
    """ns per publisher.handler(req) call, best of 5 loops of 2000."""
    n = h.log().count("PUBLISHER_NS")
    r = h.get("/app/loop/hello.py")
    if r.status != 200 or not r.body.startswith(BODY):
        raise RuntimeError("%s: loop %d\n%s" % (h.name, r.status, h.log()[-3000:]))
    deadline = time.time() + 10
    while h.log().count("PUBLISHER_NS") == n and time.time() < deadline:
        time.sleep(0.05)
    return float(h.log().rsplit("PUBLISHER_NS ", 1)[1].split()[0])


def main():
    args = round_args()
    s = servers()
    keys = [(key, url) for _, key, _ in MODULES for _, url in ROWS]
    cpu = {k: [] for k in keys}
    rps = {k: [] for k in keys}
    try:
        for key, url in keys:
            if not s[key].started:
                s[key].start()
            check(s[key], url)
        for rnd in range(args.rounds):
            for key, url in keys:
                c, q = measure(s[key], url, args.seconds)
                cpu[(key, url)].append(c)
                rps[(key, url)].append(q)
                print("round %d %-5s %-14s %6.1f µs/req %7.0f req/s" % (rnd + 1, key, url, c, q),
                      file=sys.stderr)
        for key, url in keys:
            check(s[key], url)   # still right after the load
        loop = {key: [in_process(s[key]) for _ in range(3)] for key in s}
    finally:
        for h in s.values():
            h.cleanup()
    print("| page | mod_python 4 | mod_python 3.5 | 4 / 3.5 | requests/s (4, 3.5) |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for label, url in ROWS:
        a, b = (statistics.median(cpu[(k, url)]) for k in ("mp4", "mp35"))
        qa, qb = (statistics.median(rps[(k, url)]) for k in ("mp4", "mp35"))
        print("| %s | %.1f µs | %.1f µs | %.2f | %.0f, %.0f |" % (label, a, b, a / b, qa, qb))
    a, b = min(loop["mp4"]), min(loop["mp35"])
    print()
    print("| inside one request: publisher.handler(req), /app/loop/hello.py | mod_python 4 "
          "| mod_python 3.5 | 4 / 3.5 |")
    print("| --- | ---: | ---: | ---: |")
    print("| time per call (best of 3 x 5 loops of 2000) | %.1f µs | %.1f µs | %.2f |"
          % (a / 1000, b / 1000, a / b))


if __name__ == "__main__":
    main()
