"""Flask hello world through mod_python.wsgi (PythonHandler mod_python.wsgi)
against mod_wsgi's embedded mode (Debian's libapache2-mod-wsgi-py3), side
by side in one run, with the same WSGI hello world of bench/run.py through
both for scale.

Same method as bench/run.py: each server is its own httpd (event MPM, one
child of 16 threads), pinned to CPU 0, wrk pinned to CPU 1, interleaved
rounds; the figure is server CPU (utime+stime of parent and child) per
request.  Both run the application in a sub-interpreter (mod_python: the
virtual host's; mod_wsgi: its default application group).

Usage: /usr/bin/python3 bench/flask.py [--seconds N] [--rounds N]
           [--profile SECONDS]   (cProfile inside the child under wrk)
Prints a Markdown section and puts it in bench/RESULTS.md (replacing the
one an earlier run wrote there); with --profile, prints where the time goes.
"""
import os
import statistics
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402  (bench/common.py: servers, wrk, CPU accounting)

FLASK_HELLO = '''
from flask import Flask

app = Flask(__name__)


@app.route("/x")
def hello():
    return "Hello, world!\\n", 200, {"Content-Type": "text/plain"}
'''

# A handler around mod_python.wsgi.handler that profiles every request
# (one at a time: cProfile follows the thread that enables it); ?dump
# answers with the statistics.
PROFILE = '''
import cProfile, io, pstats, threading
from mod_python import apache, wsgi

P = cProfile.Profile()
LOCK = threading.Lock()
N = [0]

def handler(req):
    if req.args == "dump":
        out = io.StringIO()
        out.write("%d requests profiled\\n" % N[0])
        pstats.Stats(P, stream=out).sort_stats("tottime").print_stats(30)
        req.content_type = "text/plain"
        req.write(out.getvalue())
        return apache.OK
    with LOCK:
        P.enable()
        try:
            return wsgi.handler(req)
        finally:
            P.disable()
            N[0] += 1
'''

MP_CONF = """<Location /app>
    SetHandler mod_python
    PythonHandler mod_python.wsgi
    PythonOption mod_python.wsgi.application {app}/%s
</Location>
"""
WSGI_CONF = "LoadModule wsgi_module %s\nWSGIScriptAlias /app {app}/%%s\n" % common.WSGI_MODULE


def servers():
    return {
        "mp4_wsgi": common.server("mp4-wsgi", {"hello_wsgi.py": common.WSGI_HELLO},
                               MP_CONF % "hello_wsgi.py::application"),
        "modwsgi_wsgi": common.server("modwsgi-wsgi", {"hello.wsgi": common.WSGI_HELLO},
                                   WSGI_CONF % "hello.wsgi", python_module=None),
        "mp4_flask": common.server("mp4-flask", {"hello_flask.py": FLASK_HELLO},
                                MP_CONF % "hello_flask.py::app"),
        "modwsgi_flask": common.server("modwsgi-flask", {"flask.wsgi": FLASK_HELLO +
                                                      "application = app\n"},
                                    WSGI_CONF % "flask.wsgi", python_module=None),
    }


LABELS = [
    ("mp4_wsgi", "mod_python 4, mod_python.wsgi, WSGI hello world"),
    ("modwsgi_wsgi", "mod_wsgi 4.9 (embedded), WSGI hello world"),
    ("mp4_flask", "mod_python 4, mod_python.wsgi, Flask hello world"),
    ("modwsgi_flask", "mod_wsgi 4.9 (embedded), Flask hello world"),
]


def report(env, cpu, rps, args):
    lines = ["## Flask through mod_python.wsgi vs mod_wsgi (bench/flask.py)", "",
             "Date: %(date)s  " % env, "Machine: %(machine)s  " % env,
             "httpd: %(httpd)s, event MPM, one child of 16 threads; Python %(python)s  " % env,
             "Method: %d interleaved rounds of %d s per server, wrk -t1 -c8 pinned to CPU 1, "
             "httpd pinned to CPU 0; server CPU = utime+stime of parent and child from /proc."
             % (args.rounds, args.seconds), "",
             "| server | CPU per request (median) | requests/s (median) |",
             "| --- | ---: | ---: |"]
    for key, label in LABELS:
        lines.append("| %s | %.1f µs | %.0f |" % (label, statistics.median(cpu[key]),
                                                   statistics.median(rps[key])))
    f4, fw = statistics.median(cpu["mp4_flask"]), statistics.median(cpu["modwsgi_flask"])
    w4, ww = statistics.median(cpu["mp4_wsgi"]), statistics.median(cpu["modwsgi_wsgi"])
    lines += ["", "Flask: mod_python 4 / mod_wsgi = %.2f; WSGI hello: %.2f" % (f4 / fw, w4 / ww)]
    return "\n".join(lines) + "\n"


def profile(seconds):
    """cProfile of mod_python.wsgi.handler serving the Flask app under wrk
    for `seconds`: where a request's Python time goes."""
    h = common.server("mp4-profile", {"hello_flask.py": FLASK_HELLO, "prof.py": PROFILE},
                   "<Location /app>\n    SetHandler mod_python\n"
                   "    PythonHandler {app}/prof.py\n"
                   "    PythonOption mod_python.wsgi.application {app}/hello_flask.py::app\n"
                   "</Location>\n")
    try:
        h.start()
        common.wrk(h, seconds)
        return h.get("/app/x?dump", timeout=60).text
    finally:
        h.cleanup()


def main():
    ap = common.round_parser()
    ap.add_argument("--profile", type=int, default=0)
    args = ap.parse_args()
    if args.profile:
        print(profile(args.profile))
        return
    env = common.environment()
    cpu, rps = common.rounds(servers(), args)
    text = report(env, cpu, rps, args)
    common.save(text)
    print(text)


if __name__ == "__main__":
    main()
