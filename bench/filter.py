"""Python output filters: what one costs on a 1 MB response, for mod_python 4
and mod_python 3.5 (Debian's libapache2-mod-python), each in its own httpd.
Figures, no assertions.

For each module, the same handler (16 req.write()s of 64 KB) three ways:
  * plain: no filter;
  * pass_on: an output filter calling filter.pass_on();
  * read/write: the read()/write() loop of 3.5's documentation (data copied
    into Python and back), then close().
The figure is server CPU per request (utime+stime of the httpd parent and
child from /proc, divided by the requests wrk completed), and its ratio to
the same module's plain server.  Servers as in bench/run.py: event MPM,
one child of 16 threads, httpd pinned to CPU 0, wrk to CPU 1, rounds
interleaved.  On a shared machine absolute numbers swing; the ratios of
one run hold.

Usage: /usr/bin/python3 bench/filter.py [--seconds N] [--rounds N]
"""
import statistics
import sys

from common import MP35_MODULE, measure, round_args, server

SIZE = 1 << 20
EXPECTED = b"".join(b"%07d|" % i * 8192 for i in range(16))

# 16 writes of 64 KB: 3.5's read/write loop fails ("Flush failed") on one
# write of more than about 256 KB, so the response comes in pieces.
HANDLER = '''
from mod_python import apache
PIECES = [b"%07d|" % i * 8192 for i in range(16)]
def handler(req):
    req.content_type = "application/octet-stream"
    for p in PIECES:
        req.write(p, 0)
    return apache.OK
'''

FILTERS = '''
def passon(filter):
    filter.pass_on()

def readwrite(filter):
    s = filter.read()
    while s:
        filter.write(s)
        s = filter.read()
    if s is None:
        filter.close()
'''

CONF = """<Directory {app}>
    SetHandler mod_python
    PythonHandler big
    PythonOutputFilter filters::passon PASSON
    PythonOutputFilter filters::readwrite READWRITE
    %s
</Directory>
"""

VARIANTS = [("plain", ""), ("pass_on", "SetOutputFilter PASSON"),
            ("read/write", "SetOutputFilter READWRITE")]
MODULES = [("mod_python 4", None), ("mod_python 3.5", MP35_MODULE)]


def servers():
    s = {}
    for mod, path in MODULES:
        for variant, line in VARIANTS:
            kw = {"python_module": path, "env": {"PYTHONPATH": ""}} if path else {}
            name = ("mp35" if path else "mp4") + "-" + variant.replace("/", "")
            s[(mod, variant)] = server(name, {"big.py": HANDLER, "filters.py": FILTERS},
                                       CONF % line, **kw)
    return s


def check(h):
    r = h.get("/app/x")
    if r.status != 200 or r.body != EXPECTED:
        raise RuntimeError("%s: %d, %d bytes\n%s" % (h.name, r.status, len(r.body),
                                                     h.log()[-3000:]))


def main():
    args = round_args()
    s = servers()
    cpu = {k: [] for k in s}
    rps = {k: [] for k in s}
    try:
        for h in s.values():
            h.start()
            check(h)
        for rnd in range(args.rounds):
            for k, h in s.items():
                c, q = measure(h, args.seconds)
                cpu[k].append(c)
                rps[k].append(q)
                print("round %d %-16s %8.1f µs/req %7.0f req/s" % (rnd + 1, h.name, c, q),
                      file=sys.stderr)
        for h in s.values():
            check(h)   # still right after the load
    finally:
        for h in s.values():
            h.cleanup()
    print("| module | filter | CPU per 1 MB request (median) | ratio to no filter "
          "| requests/s |")
    print("| --- | --- | ---: | ---: | ---: |")
    for mod, _ in MODULES:
        base = statistics.median(cpu[(mod, "plain")])
        for variant, _ in VARIANTS:
            m = statistics.median(cpu[(mod, variant)])
            print("| %s | %s | %.0f µs | %.2f | %.0f |" % (
                mod, variant, m, m / base, statistics.median(rps[(mod, variant)])))


if __name__ == "__main__":
    main()
