"""Benchmarks: mod_python 4 side by side with mod_python 3.5, mod_wsgi and a
plain C handler, on this machine, in one run.

Each server is its own httpd on 127.0.0.1 (event MPM, one child, the same
thread and keep-alive settings), pinned to CPU 0; wrk runs pinned to CPU 1.
Rounds are interleaved (A B C ... A B C ...).  The figure of merit is server
CPU per request: utime+stime of the httpd parent and its children (from
/proc) divided by the requests wrk completed; requests/s is shown beside it.
On a shared 2-core machine absolute numbers swing; ratios from one run hold.

Usage: /usr/bin/python3 bench/run.py [--seconds N] [--rounds N]
Writes bench/RESULTS.md and prints it.
"""
import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "test", "integration"))
from harness import Httpd, MODULE, one_child  # noqa: E402

MP35_MODULE = "/usr/lib/apache2/modules/mod_python.so"
WSGI_MODULE = "/usr/lib/apache2/modules/mod_wsgi.so"
C_MODULE = os.path.join(HERE, "build", "mod_bench_hello.so")
FLOOR_MODULE = os.path.join(HERE, "build", "mod_bench_pyfloor.so")
BODY = b"Hello, world!\n"
TICK = os.sysconf("SC_CLK_TCK")

# One child of 16 threads, as every server of the comparison.
ONE_CHILD = one_child("event") + "KeepAliveTimeout 30\n"

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

MICRO = '''
import gc, json, os, threading, time
from mod_python import apache
D = os.path.dirname(__file__)
N = 20000

def per_call(fn, n=N):
    fn()
    t = time.perf_counter_ns()
    for _ in range(n):
        fn()
    return (time.perf_counter_ns() - t) / n

def outside_request(fn):
    """Run fn in a thread with no request: no per-request module cache,
    so every import_module call does its full check."""
    out = []
    t = threading.Thread(target=lambda: out.append(fn()))
    t.start(); t.join()
    return out[0]

def measure():
    imp = apache.import_module
    r = {}
    for n in (0, 3, 10):
        name = "m%d" % n
        r["checked_hit_%d" % n] = outside_request(lambda: per_call(lambda: imp(name, path=[D])))
        r["request_hit_%d" % n] = per_call(lambda: imp(name, path=[D]))
    r["checked_hit_off"] = outside_request(
        lambda: per_call(lambda: imp("m10", path=[D], autoreload=False)))
    r["stat"] = per_call(lambda: os.stat(D + "/m0.py"))
    return r

def reloads():
    work = D + "/work"
    src = "".join("def f%d(x):\\n    return x + %d\\n" % (i, i) for i in range(100))
    def rss():
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    def write(i):
        with open(work + "/m200.py", "w") as f:
            f.write(src + "# %d\\n" % i)
    times = []
    for i in range(50):
        write(i)
        t = time.perf_counter_ns()
        outside_request(lambda: apache.import_module(work + "/m200.py"))
        times.append(time.perf_counter_ns() - t)
    gc.collect()
    before = rss()
    for i in range(1000):
        write(1000 + i)
        outside_request(lambda: apache.import_module(work + "/m200.py"))
    gc.collect()
    return {"reload_200_lines_us": sorted(times)[len(times) // 2] / 1000.0,
            "rss_before": before, "rss_after": rss()}

def handler(req):
    what = req.args or "micro"
    if what == "micro":
        r = measure()
    elif what == "reload":
        r = reloads()
    else:
        apache.freeze_modules()
        r = {"frozen_hit": outside_request(lambda: per_call(
            lambda: apache.import_module("m10", path=[D])))}
    body = json.dumps(r).encode()
    req.content_type = "application/json"
    req.set_content_length(len(body))
    req.write(body)
    return apache.OK
'''

MICRO35 = '''
import json, os, time
from mod_python import apache
D = os.path.dirname(__file__)
N = 20000
def handler(req):
    apache.import_module("m10", path=[D])
    t = time.perf_counter_ns()
    for _ in range(N):
        apache.import_module("m10", path=[D])
    r = {"mp35_import_module": (time.perf_counter_ns() - t) / N}
    body = json.dumps(r).encode()
    req.content_type = "application/json"
    req.set_content_length(len(body))
    req.write(body)
    return apache.OK
'''


def tree_modules(n):
    """m<n>.py importing n descendants: a chain of 3, or a fan of 10."""
    files = {"leaf%d.py" % i: "V = %d\n" % i for i in range(10)}
    files["m0.py"] = "V = 0\n"
    files["m3.py"] = "import leaf0\n"
    files["leaf0.py"] = "import leaf1\n"
    files["leaf1.py"] = "import leaf2\n"
    files["leaf2.py"] = "V = 2\n"
    files["m10.py"] = "".join("import fan%d\n" % i for i in range(10))
    files.update({"fan%d.py" % i: "V = %d\n" % i for i in range(10)})
    return files


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
           mpm_settings=ONE_CHILD, mpm="event"):
    h = Httpd(mpm, prefix="mp-bench-%s-" % name)
    h.launcher = ["taskset", "-c", "0"]
    for path, text in files.items():
        h.write("htdocs/app/" + path, text)
    if env is not None:
        h.extra_env.update(env)
    h.config(conf.format(app=h.path("htdocs", "app")), mpm_settings=mpm_settings,
             python_module=python_module, modules=modules, loglevel="warn")
    h.name = name
    return h


APP = "<Directory {app}>\n    SetHandler mod_python\n    PythonHandler %s\n</Directory>\n"


def hello_servers(suffix="", mpm_settings=ONE_CHILD, mpm="event"):
    """The C handler and mod_python 4's hello world."""
    return {
        # The same tree and section as the Python handlers: httpd walks the
        # same directories and merges the same sections for every server.
        "c": server("c" + suffix, {"hello.txt": BODY.decode()},
                    "LoadModule bench_hello_module %s\n" % C_MODULE +
                    "<Directory {app}>\n    SetHandler bench-hello\n</Directory>\n",
                    python_module=None, mpm_settings=mpm_settings, mpm=mpm),
        "mp4": server("mp4" + suffix, {"hello.py": HELLO}, APP % "hello",
                      mpm_settings=mpm_settings, mpm=mpm),
    }


def servers(mpm_settings=ONE_CHILD, mpm="event"):
    """Every server of the table (bench/instructions.py: prefork, -X)."""
    app = APP
    frozen = "PythonImport mod_python.apache::freeze_modules localhost\n"
    kw = {"mpm_settings": mpm_settings, "mpm": mpm}
    s = dict(hello_servers(**kw), **{
        "floor": server("floor", {"hello_floor.py": FLOOR_HELLO},
                        "LoadModule bench_pyfloor_module %s\n" % FLOOR_MODULE +
                        "BenchPyFloorScript {app}/hello_floor.py\n"
                        "<Directory {app}>\n    SetHandler bench-pyfloor\n</Directory>\n",
                        python_module=None, **kw),
        "mp4_chain": server("mp4_chain", dict(CHAIN, **{"page.py": CHAIN_HANDLER}),
                            app % "page", **kw),
        "mp4_frozen": server("mp4_frozen", dict(CHAIN, **{"page.py": CHAIN_HANDLER}),
                             frozen + app % "page", **kw),
        "mp35": server("mp35", {"hello.py": HELLO}, app % "hello",
                       python_module=MP35_MODULE, env={"PYTHONPATH": ""}, **kw),
        "wsgi": server("wsgi", {"hello.wsgi": WSGI_HELLO},
                       "LoadModule wsgi_module %s\nWSGIScriptAlias / {app}/hello.wsgi\n"
                       % WSGI_MODULE, python_module=None, **kw),
    })
    return s


def cpu_seconds(h):
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


def wrk(h, seconds, path="/app/x"):
    out = subprocess.run(["taskset", "-c", "1", "wrk", "-t1", "-c8", "-d%ds" % seconds,
                          "http://127.0.0.1:%d%s" % (h.port, path)],
                         capture_output=True, text=True, check=True).stdout
    reqs = int(re.search(r"(\d+) requests in", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if errors:
        raise RuntimeError("%s: %s non-2xx responses\n%s" % (h.name, errors.group(1), out))
    return reqs


def measure(h, seconds):
    wrk(h, 1)  # warm up
    c0 = cpu_seconds(h)
    t0 = time.time()
    reqs = wrk(h, seconds)
    took = time.time() - t0
    return (cpu_seconds(h) - c0) / reqs * 1e6, reqs / took


def micro(args):
    files = tree_modules(10)
    files["micro.py"] = MICRO
    h = server("micro", files, "<Directory {app}>\n    SetHandler mod_python\n"
               "    PythonHandler micro\n</Directory>\n"
               "<Location /latest>\n    SetHandler mod_python\n"
               "    PythonHandler {app}/latest.py\n</Location>\n")
    os.makedirs(h.path("htdocs", "app", "work"))
    os.chmod(h.path("htdocs", "app", "work"), 0o777)
    h35 = server("micro35", dict(tree_modules(10), **{"micro.py": MICRO35}),
                 "<Directory {app}>\n    SetHandler mod_python\n    PythonHandler micro\n"
                 "</Directory>\n", python_module=MP35_MODULE, env={"PYTHONPATH": ""})
    try:
        h.start()
        h35.start()
        r = json.loads(h.get("/app/micro?micro", timeout=300).body)
        r.update(json.loads(h.get("/app/micro?reload", timeout=600).body))
        r["change_to_response_ms"] = change_latency(h)
        # last: freezing is for good in that interpreter
        r.update(json.loads(h.get("/app/micro?freeze", timeout=300).body))
        resp = h35.get("/app/micro", timeout=300)
        r.update(json.loads(resp.body) if resp.status == 200 else {"mp35_import_module": None})
    finally:
        h.cleanup()
        h35.cleanup()
    return r


def change_latency(h):
    """From a saved change to the first response running the new code."""
    p = h.path("htdocs", "app", "latest.py")
    best = []
    for i in range(20):
        time.sleep(0.01)  # a new mtime tick, as an editor's save would have
        with open(p, "w") as f:
            f.write("from mod_python import apache\ndef handler(req):\n"
                    "    req.write('v%d')\n    return apache.OK\n" % i)
        t = time.perf_counter()
        while h.get("/latest").body != b"v%d" % i:
            if time.perf_counter() - t > 10:
                raise RuntimeError("the change was never served")
        best.append((time.perf_counter() - t) * 1000)
    return statistics.median(best)


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


LABELS = [
    ("c", "C handler (the limit)"),
    ("floor", "Python floor: GIL + one call of the same handler, nothing else"),
    ("mp4", "mod_python 4, hello world"),
    ("mp4_chain", "mod_python 4, 3-deep import chain, autoreload On, 2 KB"),
    ("mp4_frozen", "mod_python 4, same, freeze_modules()"),
    ("mp35", "mod_python 3.5, hello world"),
    ("wsgi", "mod_wsgi (embedded), WSGI hello world"),
]


def report(env, cpu, rps, few, micro_r, args):
    base = statistics.median(cpu["c"])
    lines = ["# Benchmark results", "",
             "Date: %(date)s  " % env, "Machine: %(machine)s  " % env,
             "OS: %(os)s  " % env, "httpd: %(httpd)s, event MPM, one child of 16 threads  " % env,
             "Python: %(python)s  " % env,
             "Method: %d interleaved rounds of %d s per server, wrk -t1 -c8 pinned to CPU 1, "
             "httpd pinned to CPU 0; server CPU = utime+stime of parent and child from /proc."
             % (args.rounds, args.seconds), "",
             "| server | CPU per request (median) | ratio to C | requests/s (median) |",
             "| --- | ---: | ---: | ---: |"]
    for key, label in LABELS:
        m = statistics.median(cpu[key])
        lines.append("| %s | %.1f µs | %.2f | %.0f |" % (label, m, m / base,
                                                       statistics.median(rps[key])))
    chain, frozen = statistics.median(cpu["mp4_chain"]), statistics.median(cpu["mp4_frozen"])
    c4, mp4_4 = statistics.median(few["c"]), statistics.median(few["mp4"])
    lines += ["", "Autoreload On vs frozen (workload 2 / workload 3): %.2f" % (chain / frozen), "",
              "Hello world with one child of 4 threads instead of 16 (same rounds): "
              "C handler %.1f µs, mod_python 4 %.1f µs, ratio %.2f" % (c4, mp4_4, mp4_4 / c4), "",
              "| micro figure (from inside a handler) | ns per call |", "| --- | ---: |"]
    micro_rows = [
        ("import_module hit, autoreload On, 0 descendants (full check)", "checked_hit_0"),
        ("import_module hit, autoreload On, 3 descendants (full check)", "checked_hit_3"),
        ("import_module hit, autoreload On, 10 descendants (full check)", "checked_hit_10"),
        ("import_module hit, autoreload Off", "checked_hit_off"),
        ("import_module hit, frozen", "frozen_hit"),
        ("import_module hit within one request (per-request cache)", "request_hit_10"),
        ("mod_python 3.5 import_module, same module, its own server", "mp35_import_module"),
        ("os.stat of one file, for scale", "stat"),
    ]
    for label, key in micro_rows:
        v = micro_r.get(key)
        lines.append("| %s | %s |" % (label, "%.0f" % v if v is not None else "n/a"))
    lines += ["", "| reload figure | value |", "| --- | ---: |",
              "| file change to first response with the new code | %.2f ms |"
              % micro_r["change_to_response_ms"],
              "| reload of a 200-line module (median of 50) | %.0f µs |"
              % micro_r["reload_200_lines_us"],
              "| child RSS before / after 1000 reloads | %.1f MB / %.1f MB (%+.2f MB) |"
              % (micro_r["rss_before"] / 1e6, micro_r["rss_after"] / 1e6,
                 (micro_r["rss_after"] - micro_r["rss_before"]) / 1e6)]
    return "\n".join(lines) + "\n"


def other_sections(path):
    """The "## " sections of RESULTS.md, recorded by hand from other
    scripts (bench/body.py): kept when this script rewrites the file."""
    try:
        with open(path) as f:
            old = f.read()
    except OSError:
        return ""
    i = old.find("\n## ")
    return old[i:] if i >= 0 else ""


def rounds(s, args):
    """Start every server, then measure them in interleaved rounds:
    ({key: [µs per request]}, {key: [requests/s]})."""
    cpu = {k: [] for k in s}
    rps = {k: [] for k in s}
    try:
        for h in s.values():
            h.start()
            r = h.get("/app/x")
            if r.status != 200:
                raise RuntimeError("%s answered %d:\n%s" % (h.name, r.status, h.log()[-2000:]))
        for rnd in range(args.rounds):
            for k, h in s.items():
                c, q = measure(h, args.seconds)
                cpu[k].append(c)
                rps[k].append(q)
                print("round %d %-11s %7.1f µs/req %8.0f req/s" % (rnd + 1, h.name, c, q),
                      file=sys.stderr)
    finally:
        for h in s.values():
            h.cleanup()
    return cpu, rps


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=5)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    build_c_modules()
    env = environment()
    cpu, rps = rounds(servers(), args)
    # Not a tuning knob (the table keeps 16 threads): the same two servers
    # at another thread count, to show that the gap to C is a fixed cost.
    few, _ = rounds(hello_servers("_4threads", one_child("event", 4) + "KeepAliveTimeout 30\n"),
                    args)
    micro_r = micro(args)
    text = report(env, cpu, rps, few, micro_r, args)
    path = os.path.join(HERE, "RESULTS.md")
    other = other_sections(path)
    with open(path, "w") as f:
        f.write(text + other)
    print(text)


if __name__ == "__main__":
    main()
