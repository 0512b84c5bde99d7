"""A PSP page through `PythonHandler mod_python.psp`: mod_python 4 against
mod_python 3.5 (Debian's libapache2-mod-python, its own psp.py and _psp),
side by side in one run, with mod_python 4's hello world for scale.

Same method as bench/run.py: each server is its own httpd (event MPM, one
child of 16 threads), pinned to CPU 0, wrk pinned to CPU 1, interleaved
rounds; the figure is server CPU (utime+stime of parent and child) per
request.  The page (PAGE below: a table of 20 rows, 64 expressions
evaluated, about 1.6 KB out) is compiled on the first request and served from each server's
cache of compiled pages after that, as in production.

Usage: /usr/bin/python3 bench/psp.py [--seconds N] [--rounds N]
Prints a Markdown section and puts it in bench/RESULTS.md (replacing the
one an earlier run wrote there).
"""
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402  (bench/common.py: servers, wrk, CPU accounting)

PAGE = '''<html>
<%
title = "PSP bench"
rows = [(i, "item %d" % i, i * 1.5) for i in range(20)]
%>
<head><title><%= title %></title></head>
<body>
<h1><%= title %></h1>
<table>
<%
for n, name, price in rows:
%>
<tr><td><%= n %></td><td><%= name %></td><td><%= "%.2f" % price %></td></tr>
<%
%>
</table>
<p>uri: <%= req.uri %>, <%= len(rows) %> rows</p>
</body>
</html>
'''

# The page is the file the URL names: /app/x is {app}/x.
CONF = "<Directory {app}>\n    SetHandler mod_python\n    PythonHandler mod_python.psp\n" \
       "</Directory>\n"


def servers():
    return {
        "mp4_psp": common.server("mp4-psp", {"x": PAGE}, CONF),
        "mp35_psp": common.server("mp35-psp", {"x": PAGE}, CONF, python_module=common.MP35_MODULE,
                               env={"PYTHONPATH": ""}),
        "mp4_hello": common.server("mp4-hello", {"hello.py": common.HELLO}, common.APP % "hello"),
    }


LABELS = [
    ("mp4_psp", "mod_python 4, PSP page"),
    ("mp35_psp", "mod_python 3.5, PSP page"),
    ("mp4_hello", "mod_python 4, hello world handler (for scale)"),
]


def check_same_page():
    """Both servers write the same page: its size in bytes."""
    s = {"mp4": common.server("mp4-psp-check", {"x": PAGE}, CONF),
         "mp35": common.server("mp35-psp-check", {"x": PAGE}, CONF,
                            python_module=common.MP35_MODULE, env={"PYTHONPATH": ""})}
    try:
        bodies = {}
        for k, h in s.items():
            h.start()
            r = h.get("/app/x")
            if r.status != 200:
                raise RuntimeError("%s answered %d:\n%s" % (k, r.status, r.text[:2000]))
            bodies[k] = r.body
        if bodies["mp4"] != bodies["mp35"]:
            raise RuntimeError("the pages differ:\n%r\n%r" % (bodies["mp4"], bodies["mp35"]))
        return len(bodies["mp4"])
    finally:
        for h in s.values():
            h.cleanup()


def report(env, cpu, rps, args, size):
    lines = ["## PSP page, mod_python 4 vs 3.5 (bench/psp.py)", "",
             "Date: %(date)s  " % env, "Machine: %(machine)s  " % env,
             "httpd: %(httpd)s, event MPM, one child of 16 threads; Python %(python)s  " % env,
             "Method: %d interleaved rounds of %d s per server, wrk -t1 -c8 pinned to CPU 1, "
             "httpd pinned to CPU 0; server CPU = utime+stime of parent and child from /proc.  "
             % (args.rounds, args.seconds),
             "Page: a 20-row table, 64 expressions evaluated, %d bytes out, the same from both "
             "(checked); compiled once, then from the cache." % size, "",
             "| server | CPU per request (median) | requests/s (median) |",
             "| --- | ---: | ---: |"]
    for key, label in LABELS:
        lines.append("| %s | %.1f µs | %.0f |" % (label, statistics.median(cpu[key]),
                                                   statistics.median(rps[key])))
    p4, p35 = statistics.median(cpu["mp4_psp"]), statistics.median(cpu["mp35_psp"])
    lines += ["", "PSP page: mod_python 4 / mod_python 3.5 = %.2f" % (p4 / p35)]
    return "\n".join(lines) + "\n"


def main():
    args = common.round_args()
    env = common.environment()
    size = check_same_page()
    cpu, rps = common.rounds(servers(), args)
    text = report(env, cpu, rps, args, size)
    common.save(text)
    print(text)


if __name__ == "__main__":
    main()
