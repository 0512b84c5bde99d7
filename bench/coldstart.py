"""Cold start with many virtual hosts, one interpreter each: how long httpd
takes to answer its first Python request, how long until every host has
answered once, and the memory (issue 16, "also measure"; printed, no
target).  mod_python 4 beside mod_python 3.5 and mod_wsgi.

For each module and N in 1, 10, 100: a fresh httpd (event MPM, one child
of 16 threads, not pinned) with N <VirtualHost 127.0.0.1:port> named
v001.test ... by ServerName, all serving the same directory, each in its
own interpreter: mod_python 4 and 3.5 `PythonInterpreter <host>` (and
`PythonHandler hello`), mod_wsgi embedded mode with `WSGIApplicationGroup
<host>`.  The hello world answers with the name of the interpreter it runs
in, and every answer is checked against its host: N hosts, N interpreters.

Clock: from `httpd -k start` to the first connection accepted
("listening": httpd's parent has read the configuration, run its modules'
post_config and opened its socket; retried every 2 ms), to the first
answer of v001.test (the child started, the first request), then each other host asked
once, one after the other, by its Host header: "all N" is the time until
the last one answered; "each further host": the median time of those
later first requests (creating an interpreter, importing the handler).
Memory: VmRSS of the child from /proc after the first host answered and
after all of them, per interpreter = (after all - after the first) /
(N - 1); the parent's VmRSS after all.  The server starts 2 s after its
files were written, with their mtime a minute back, as on a deployed site
(mod_python 4's importer waits up to 100 ms for a file changed in the
last 2 s, which a writer may still have open).
Rounds: --rounds fresh servers per (module, N), interleaved; medians.

Usage: /usr/bin/python3 bench/coldstart.py [--rounds N] [--hosts 1,10,100]
Prints a section and puts it into bench/RESULTS.md.
"""
import argparse
import http.client
import os
import statistics
import sys
import time

import common
from common import MP35_MODULE, MODULE, WSGI_MODULE, Httpd

TITLE = "## Cold start with N virtual hosts, one interpreter each (bench/coldstart.py)"

MP_HELLO = '''
from mod_python import apache
def handler(req):
    body = req.interpreter.encode()
    req.content_type = "text/plain"
    req.set_content_length(len(body))
    req.write(body)
    return apache.OK
'''

WSGI_HELLO = '''
def application(environ, start_response):
    body = environ["mod_wsgi.application_group"].encode()
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(body)))])
    return [body]
'''

MP_VHOST = """<VirtualHost 127.0.0.1:{port}>
    ServerName {name}
    DocumentRoot {app}
    PythonInterpreter {name}
</VirtualHost>
"""
MP_APP = "<Directory {app}>\n    SetHandler mod_python\n    PythonHandler hello\n</Directory>\n"
WSGI_VHOST = """<VirtualHost 127.0.0.1:{port}>
    ServerName {name}
    DocumentRoot {app}
    WSGIScriptAlias /app {app}/hello.wsgi
    WSGIApplicationGroup {name}
</VirtualHost>
"""

# key: (label, python_module, LoadModule line, file, its text, vhost, global)
MODULES = {
    "mp4": ("mod_python 4", MODULE, "", "hello.py", MP_HELLO, MP_VHOST, MP_APP),
    "mp35": ("mod_python 3.5", MP35_MODULE, "", "hello.py", MP_HELLO, MP_VHOST, MP_APP),
    "wsgi": ("mod_wsgi (embedded)", None, "LoadModule wsgi_module %s\n" % WSGI_MODULE,
             "hello.wsgi", WSGI_HELLO, WSGI_VHOST, ""),
}


def names(n):
    return ["v%03d.test" % i for i in range(1, n + 1)]


def server(key, n):
    label, so, load, fname, text, vhost, glob = MODULES[key]
    h = Httpd("event", prefix="mp-bench-cold-%s-%d-" % (key, n))
    app = h.path("htdocs", "app")
    p = h.write("htdocs/app/" + fname, text)
    old = time.time() - 60
    os.utime(p, (old, old))
    h.written = time.time()
    conf = load + glob.format(app=app) + "".join(
        vhost.format(port=h.port, name=name, app=app) for name in names(n))
    h.config(conf, mpm_settings=common.ONE_CHILD, python_module=so, loglevel="warn")
    if key == "mp35":
        h.extra_env["PYTHONPATH"] = ""  # its own mod_python package, not ours
    h.name = "%s-%d" % (key, n)
    return h


def rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    raise RuntimeError("no VmRSS for %d" % pid)


def ask(h, name, deadline=60.0):
    """The body of /app/x from host `name`, retried while nothing listens;
    and when the connection was made (time.perf_counter())."""
    t = time.time()
    while True:
        conn = http.client.HTTPConnection("127.0.0.1", h.port, timeout=60)
        try:
            conn.connect()
            connected = time.perf_counter()
            conn.request("GET", "/app/x", headers={"Host": name})
            r = conn.getresponse()
            body = r.read()
            break
        except ConnectionRefusedError:
            if time.time() - t > deadline:
                raise
            time.sleep(0.002)
        finally:
            conn.close()
    if r.status != 200 or body.decode() != name:
        raise RuntimeError("%s: %s answered %d %r:\n%s" % (h.name, name, r.status, body[:200],
                                                           h.log()[-3000:]))
    return connected


def child(h):
    """The one child's pid, once it is up."""
    deadline = time.time() + 30
    while time.time() < deadline:
        kids = h.children()
        if kids:
            return kids[0]
        time.sleep(0.005)
    raise RuntimeError("%s: no child" % h.name)


def one_run(key, n):
    """{listening, first, all, later, rss1, rssn, per, parent} of a fresh
    server."""
    h = server(key, n)
    try:
        hosts = names(n)
        time.sleep(max(0.0, h.written + 2.1 - time.time()))
        t0 = time.perf_counter()
        h.ctl("-k", "start")
        listening = ask(h, hosts[0]) - t0
        first = time.perf_counter() - t0
        kid = child(h)
        r = {"listening": listening * 1e3, "first": first * 1e3, "rss1": rss_mb(kid)}
        later = []
        for name in hosts[1:]:
            t = time.perf_counter()
            ask(h, name)
            later.append((time.perf_counter() - t) * 1e3)
        r["all"] = (time.perf_counter() - t0) * 1e3
        r["later"] = statistics.median(later) if later else None
        r["rssn"] = rss_mb(kid)
        r["parent"] = rss_mb(h.pid())
        r["per"] = (r["rssn"] - r["rss1"]) / (n - 1) if n > 1 else None
        return r
    finally:
        h.cleanup()


def report(env, runs, args):
    lines = [TITLE, "",
             "Issue 16.  `/usr/bin/python3 bench/coldstart.py`: a fresh httpd per module and "
             "N (event MPM, one child of 16 threads), N virtual hosts by ServerName on "
             "127.0.0.1, one interpreter each (mod_python: PythonInterpreter per host; "
             "mod_wsgi: embedded, WSGIApplicationGroup per host), each host asked once by its "
             "Host header, one after the other; every answer names its interpreter and is "
             "checked.  Times from `httpd -k start` (listening: the first connection accepted, "
             "the parent's start-up), 2 s after the files were written (as on "
             "a deployed site: no importer waits for a writer); RSS = VmRSS from /proc.  "
             "%d round(s), "
             "interleaved, medians." % args.rounds, "",
             "Date: %(date)s  " % env, "Machine: %(machine)s  " % env,
             "httpd: %(httpd)s; Python %(python)s  " % env, "",
             "| module | N hosts | listening | first answer | all N answered | each further host "
             "| child RSS after 1st | child RSS after all | RSS per interpreter | parent RSS |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]

    def med(rs, fig, fmt):
        vals = [r[fig] for r in rs if r[fig] is not None]
        return fmt % statistics.median(vals) if vals else ""

    for key in MODULES:
        for n in args.hosts:
            rs = runs[key, n]
            lines.append("| %s | %d | %s | %s | %s | %s | %s | %s | %s | %s |" % (
                MODULES[key][0], n, med(rs, "listening", "%.0f ms"),
                med(rs, "first", "%.0f ms"), med(rs, "all", "%.0f ms"),
                med(rs, "later", "%.1f ms"), med(rs, "rss1", "%.1f MB"),
                med(rs, "rssn", "%.1f MB"), med(rs, "per", "%.2f MB"),
                med(rs, "parent", "%.1f MB")))
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--hosts", default="1,10,100", help="the values of N")
    args = ap.parse_args()
    args.hosts = [int(x) for x in args.hosts.split(",")]
    env = common.environment()
    runs = {(k, n): [] for k in MODULES for n in args.hosts}
    for rnd in range(args.rounds):
        for n in args.hosts:
            for key in MODULES:
                r = one_run(key, n)
                runs[key, n].append(r)
                print("round %d %-5s N=%-3d listening %5.0f ms, first %5.0f ms, all %6.0f ms, "
                      "child %.1f MB" % (rnd + 1, key, n, r["listening"], r["first"], r["all"],
                                         r["rssn"]), file=sys.stderr)
    text = report(env, runs, args)
    common.save(text)
    print(text)


if __name__ == "__main__":
    main()
