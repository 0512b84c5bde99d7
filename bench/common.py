"""What the benchmarks share: the hello-world servers of the comparison
(C handler, Python floor, mod_python 4 and its variants, mod_python 3.5,
mod_wsgi), building the two C modules, CPU accounting and wrk, the machine
description, and writing a section of bench/RESULTS.md.

bench/run.py (CPU time per request), bench/instructions.py (instructions
per request) and bench/all.py (both, side by side) measure the same
WORKLOADS built by servers() here.
"""
import argparse
import datetime
import os
import platform
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "test", "integration"))
from harness import MODULE, ONE_PREFORK_CHILD, Httpd, one_child  # noqa: E402

RESULTS = os.path.join(HERE, "RESULTS.md")
MP35_MODULE = "/usr/lib/apache2/modules/mod_python.so"
WSGI_MODULE = "/usr/lib/apache2/modules/mod_wsgi.so"
C_MODULE = os.path.join(HERE, "build", "mod_bench_hello.so")
FLOOR_MODULE = os.path.join(HERE, "build", "mod_bench_pyfloor.so")
BODY = b"Hello, world!\n"
TICK = os.sysconf("SC_CLK_TCK")

# One child of 16 threads, as every server of the comparison.
ONE_CHILD = one_child("event") + "KeepAliveTimeout 30\n"
# bench/instructions.py's: prefork, one process (it runs httpd -X).
PREFORK = {"mpm": "prefork", "mpm_settings": ONE_PREFORK_CHILD}

HELLO = '''
from mod_python import apache
BODY = b"Hello, world!\\n"
def handler(req):
    req.content_type = "text/plain"
    req.set_content_length(len(BODY))
    req.write(BODY, 0)
    return apache.OK
'''

# The same four lines for the floor module (bench/mod_bench_pyfloor.c),
# which has no mod_python.apache: a module object stands in for it.
FLOOR_HELLO = '''
import sys
apache = type(sys)("apache")
apache.OK = 0
BODY = b"Hello, world!\\n"
def handler(req):
    req.content_type = "text/plain"
    req.set_content_length(len(BODY))
    req.write(BODY)
    return apache.OK
'''

CHAIN_HANDLER = '''
from mod_python import apache
import chain1
def handler(req):
    body = chain1.page().encode()
    req.content_type = "text/plain"
    req.set_content_length(len(body))
    req.write(body, 0)
    return apache.OK
'''
CHAIN = {
    "chain1.py": "import chain2\ndef page():\n    return chain2.block() * 8\n",
    "chain2.py": "import chain3\ndef block():\n    return chain3.LINE * 4\n",
    "chain3.py": "LINE = 'x' * 63 + '\\n'\n",
}

WSGI_HELLO = '''
BODY = b"Hello, world!\\n"
def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"),
                              ("Content-Length", str(len(BODY)))])
    return [BODY]
'''

# The hello world, also reading a request header and setting one.
HEADERS_HELLO = '''
from mod_python import apache
BODY = b"Hello, world!\\n"
def handler(req):
    agent = req.headers_in.get("User-Agent")
    req.headers_out["X-Hello"] = "yes" if agent else "no"
    req.content_type = "text/plain"
    req.set_content_length(len(BODY))
    req.write(BODY, 0)
    return apache.OK
'''

APP = "<Directory {app}>\n    SetHandler mod_python\n    PythonHandler %s\n</Directory>\n"

# A site's usual directives around the same handler.
REALISTIC = """<Directory {app}>
    SetHandler mod_python
    PythonHandler hello
    PythonPath "sys.path + ['{app}/lib']"
    PythonOption site.name example
    PythonOption site.mode production
    PythonOption site.db /var/lib/example/db.sqlite
    PythonOption site.cache_seconds 300
    PythonOption site.admin webmaster@example.org
    PythonDebug On
</Directory>
"""

# The static pair: hello.txt in the app directory, served by httpd's own
# handler; with mod_python loaded and a Python handler at another URL, or
# with no mod_python at all (the same <Location>: the same sections to walk).
STATIC_PY = """<Location /py>
    SetHandler mod_python
    PythonHandler {app}/hello.py
</Location>
"""
STATIC_NONE = "<Location /py>\n    SetHandler none\n</Location>\n"
FROZEN = "PythonImport mod_python.apache::freeze_modules localhost\n"

# key, label, URL, what the response's body must be (None: not checked)
WORKLOADS = [
    ("c", "C handler (the limit)", "/app/x", BODY),
    ("floor", "Python floor: GIL + one call of the same handler", "/app/x", BODY),
    ("mp4", "mod_python 4, hello world", "/app/x", BODY),
    ("mp35", "mod_python 3.5, hello world", "/app/x", BODY),
    ("wsgi", "mod_wsgi (embedded), WSGI hello world", "/app/x", BODY),
    ("mp4_chain", "mod_python 4, 3-deep import chain, autoreload On", "/app/x", None),
    ("mp4_frozen", "mod_python 4, same chain, freeze_modules()", "/app/x", None),
    ("static_mp4", "static hello.txt, mod_python 4 loaded (handler at /py)",
     "/app/hello.txt", BODY),
    ("static", "static hello.txt, no mod_python", "/app/hello.txt", BODY),
    ("mp4_real", "mod_python 4, hello world, PythonPath + 5 PythonOption + PythonDebug",
     "/app/x", BODY),
    ("mp4_headers", "mod_python 4, hello world + headers_in read + headers_out set",
     "/app/x", BODY),
]
KEYS = [k for k, _, _, _ in WORKLOADS]
LABEL = {k: label for k, label, _, _ in WORKLOADS}
URL = {k: url for k, _, url, _ in WORKLOADS}


def apxs_build(source, target, extra=()):
    build = os.path.join(HERE, "build")
    os.makedirs(build, exist_ok=True)
    name = os.path.splitext(source)[0]
    subprocess.run(["apxs", "-c", "-o", name + ".la"] + list(extra) + ["../" + source],
                   cwd=build, check=True, capture_output=True)
    os.replace(os.path.join(build, ".libs", name + ".so"), target)


def build_c_modules():
    apxs_build("mod_bench_hello.c", C_MODULE)
    config = sys.executable + "-config"  # the Python running this script
    flags = subprocess.run([config, "--includes", "--ldflags", "--embed"], check=True,
                           capture_output=True, text=True).stdout.split()
    apxs_build("mod_bench_pyfloor.c", FLOOR_MODULE, flags)


def server(name, files, conf, python_module=MODULE, env=None, modules=(),
           mpm_settings=ONE_CHILD, mpm="event", url="/app/x"):
    """An httpd (not started) pinned to CPU 0, `files` in htdocs/app, `conf`
    ({app}: that directory) after the usual settings; h.url: what to ask."""
    h = Httpd(mpm, prefix="mp-bench-%s-" % name)
    h.launcher = ["taskset", "-c", "0"]
    for path, text in files.items():
        h.write("htdocs/app/" + path, text)
    if env is not None:
        h.extra_env.update(env)
    h.config(conf.format(app=h.path("htdocs", "app")), mpm_settings=mpm_settings,
             python_module=python_module, modules=modules, loglevel="warn")
    h.name = name
    h.url = url
    return h


def hello_servers(suffix="", mpm_settings=ONE_CHILD, mpm="event"):
    """The C handler and mod_python 4's hello world."""
    kw = {"mpm_settings": mpm_settings, "mpm": mpm}
    return {
        # The same tree and section as the Python handlers: httpd walks the
        # same directories and merges the same sections for every server.
        "c": server("c" + suffix, {"hello.txt": BODY.decode()},
                    "LoadModule bench_hello_module %s\n" % C_MODULE +
                    "<Directory {app}>\n    SetHandler bench-hello\n</Directory>\n",
                    python_module=None, **kw),
        "mp4": server("mp4" + suffix, {"hello.py": HELLO}, APP % "hello", **kw),
        "floor": server("floor" + suffix, {"hello_floor.py": FLOOR_HELLO},
                        "LoadModule bench_pyfloor_module %s\n" % FLOOR_MODULE +
                        "BenchPyFloorScript {app}/hello_floor.py\n"
                        "<Directory {app}>\n    SetHandler bench-pyfloor\n</Directory>\n",
                        python_module=None, **kw),
    }


def servers(keys=KEYS, mpm_settings=ONE_CHILD, mpm="event"):
    """{key: Httpd} (not started) for the WORKLOADS in keys, in that order."""
    kw = {"mpm_settings": mpm_settings, "mpm": mpm}
    chain = dict(CHAIN, **{"page.py": CHAIN_HANDLER})
    static_files = {"hello.txt": BODY.decode(), "hello.py": HELLO}
    make = {
        "mp4_chain": lambda: server("mp4_chain", chain, APP % "page", **kw),
        "mp4_frozen": lambda: server("mp4_frozen", chain, FROZEN + APP % "page", **kw),
        "mp35": lambda: server("mp35", {"hello.py": HELLO}, APP % "hello",
                               python_module=MP35_MODULE, env={"PYTHONPATH": ""}, **kw),
        "wsgi": lambda: server("wsgi", {"hello.wsgi": WSGI_HELLO},
                               "LoadModule wsgi_module %s\nWSGIScriptAlias / {app}/hello.wsgi\n"
                               % WSGI_MODULE, python_module=None, **kw),
        "static_mp4": lambda: server("static_mp4", static_files, STATIC_PY,
                                     url=URL["static_mp4"], **kw),
        "static": lambda: server("static", static_files, STATIC_NONE, python_module=None,
                                 url=URL["static"], **kw),
        "mp4_real": lambda: server("mp4_real", {"hello.py": HELLO, "lib/helpers.py": "X = 1\n"},
                                   REALISTIC, **kw),
        "mp4_headers": lambda: server("mp4_headers", {"hello.py": HEADERS_HELLO},
                                      APP % "hello", **kw),
    }
    s = {}
    try:
        if set(keys) & {"c", "mp4", "floor"}:
            hello = hello_servers(**kw)
            s.update({k: h for k, h in hello.items() if k in keys})
            for k in set(hello) - set(keys):
                hello[k].cleanup()
        for key in keys:
            if key in make:
                s[key] = make[key]()
    except BaseException:
        cleanup(s)
        raise
    return {k: s[k] for k in keys}


def cleanup(s):
    """Stop every server of {key: Httpd} and remove its tree."""
    for h in s.values():
        h.cleanup()


def cpu_seconds(h):
    """utime+stime of h's parent and children so far, in seconds."""
    total = 0
    pid = h.pid()
    for p in [pid] + h.children():
        try:
            with open("/proc/%d/stat" % p) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except OSError:
            pass
    return total / TICK


def wrk(h, seconds, path="/app/x", connections=8):
    """Requests wrk completed in `seconds` (wrk pinned to CPU 1)."""
    out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", "-c%d" % connections,
                          "-d%ds" % seconds, "http://127.0.0.1:%d%s" % (h.port, path)],
                         capture_output=True, text=True, check=True).stdout
    reqs = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError("%s: %s non-2xx responses\n%s" % (h.name, errors.group(1), out))
    return reqs


def measure(h, seconds, connections=8):
    """(server CPU µs per request, requests/s) over `seconds` of wrk."""
    path = getattr(h, "url", "/app/x")
    wrk(h, 1, path, connections)  # warm up
    c0 = cpu_seconds(h)
    t0 = time.time()
    reqs = wrk(h, seconds, path, connections)
    took = time.time() - t0
    return (cpu_seconds(h) - c0) / reqs * 1e6, reqs / took


def start_checked(h):
    h.start()
    r = h.get(getattr(h, "url", "/app/x"))
    if r.status != 200:
        raise RuntimeError("%s answered %d:\n%s" % (h.name, r.status, h.log()[-2000:]))


def rounds(s, args, connections=8):
    """Start every server of {key: Httpd}, then measure them in interleaved
    rounds of args.seconds, args.rounds times; stop them all:
    ({key: [µs per request]}, {key: [requests/s]})."""
    cpu = {k: [] for k in s}
    rps = {k: [] for k in s}
    try:
        for h in s.values():
            start_checked(h)
        for rnd in range(args.rounds):
            for k, h in s.items():
                c, q = measure(h, args.seconds, connections)
                cpu[k].append(c)
                rps[k].append(q)
                print("round %d %-12s %7.1f µs/req %8.0f req/s" % (rnd + 1, h.name, c, q),
                      file=sys.stderr)
    finally:
        cleanup(s)
    return cpu, rps


def environment():
    httpd = subprocess.run(["/usr/sbin/apache2", "-v"], capture_output=True, text=True).stdout
    cpu = ""
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {"date": datetime.datetime.utcnow().strftime("%Y-%m-%d %H:%M UTC"),
            "machine": "%s, %d cores" % (cpu, os.cpu_count()),
            "os": platform.platform(),
            "httpd": httpd.splitlines()[0].split(":", 1)[1].strip(),
            "python": sys.version.split()[0]}


def read_results():
    try:
        with open(RESULTS) as f:
            return f.read()
    except OSError:
        return ""


def save(section):
    """Put a "## " section at the end of RESULTS.md, in place of the one
    with the same title line an earlier run wrote."""
    old = read_results()
    title = section.split("\n", 1)[0]
    start = old.find(title)
    if start >= 0:
        end = old.find("\n## ", start + len(title))
        old = old[:start].rstrip("\n") + ("\n" + old[end:] if end >= 0 else "")
    with open(RESULTS, "w") as f:
        f.write(old.rstrip("\n") + "\n\n" + section)


def save_head(text):
    """Replace the top of RESULTS.md (bench/run.py's, before its first "## "
    section), keeping the sections."""
    old = read_results()
    i = old.find("\n## ")
    with open(RESULTS, "w") as f:
        f.write(text + (old[i:] if i >= 0 else ""))


def round_parser():
    """The options of a script measuring CPU time in interleaved rounds:
    --seconds of each round per server, --rounds."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=5, help="of each round, per server")
    ap.add_argument("--rounds", type=int, default=3)
    return ap


def round_args():
    return round_parser().parse_args()
