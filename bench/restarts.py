"""Graceful restarts under load (issue 10, item 13): figures, no assertions.

For each MPM (prefork, worker, event) and each kind of server (a static
file; a plain C handler, bench/mod_bench_hello.c; mod_python 4's hello
world; mod_python 4 with a handler that imports a few modules; on request
the Python floor, bench/mod_bench_pyfloor.c: the GIL and one call), wrk keeps
--connections keep-alive connections busy for --seconds while the script
sends --restarts graceful restarts (`httpd -k graceful`), evenly spaced.
Kinds run interleaved (static, c, mp4, mp4_imports, static, ...) so that
noise from other work on the machine hits all alike.  After each run every
process the server had (parent and all children seen) must be gone.

Every server has Debian's default MPM settings (mods-available/mpm_*.conf)
or, with --small, the integration suite's (two children of 16 threads),
and the same keep-alive settings.  Neither httpd nor wrk is pinned: on one
CPU a C handler's threads queue for the CPU as Python's wait for the GIL,
and what differs is hidden (--pin pins them as bench/run.py does).
--extra adds lines to every server's configuration (e.g. "ThreadsPerChild
32") to measure a setting.

wrk counts every keep-alive connection the server closes without a
"Connection: close" as a read (or write) error, whether or not its next
request was already sent: a static-file server has such errors at a
graceful restart too, when its old children close their idle
connections.  The ratio to static, per MPM, is the figure.

Usage: /usr/bin/python3 bench/restarts.py [--seconds N] [--restarts N]
       [--rounds N] [--mpms event,worker] [--kinds static,mp4] [--extra LINE]
"""
import argparse
import os
import re
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "test", "integration"))
from harness import MODULE, MPM_SETTINGS, Httpd, wait_for  # noqa: E402
from common import (BODY as HELLO_BODY, C_MODULE, FLOOR_HELLO, FLOOR_MODULE,  # noqa: E402
                 HELLO, build_c_modules, environment)

BODY = HELLO_BODY.decode()

# A handler with some weight at import: what a new child's first request
# pays after each restart.  The same handler as bench/run.py's hello world.
IMPORTS = """
import decimal, email.message, http.cookies, json, urllib.parse, xml.dom.minidom
""" + HELLO

# Debian's defaults (/etc/apache2/mods-available/mpm_*.conf): what a user
# has unless they changed them.
MPM_DEFAULTS = {
    "prefork": """
        StartServers 5
        MinSpareServers 5
        MaxSpareServers 10
        MaxRequestWorkers 150
        MaxConnectionsPerChild 0
    """,
    "worker": """
        StartServers 2
        MinSpareThreads 25
        MaxSpareThreads 75
        ThreadLimit 64
        ThreadsPerChild 25
        MaxRequestWorkers 150
        MaxConnectionsPerChild 0
    """,
}
MPM_DEFAULTS["event"] = MPM_DEFAULTS["worker"]
# The integration suite's settings (harness.MPM_SETTINGS): few workers, no
# room for a new generation beside the old one.
MPM_SMALL = dict(MPM_SETTINGS)

APP = "<Directory {app}>\n    SetHandler %s\n%s</Directory>\n"
KINDS = {
    # kind: (files under htdocs/app, configuration, LoadModule of ours?)
    "static": ({"hello.txt": BODY}, "", False),
    "c": ({"hello.txt": BODY}, "LoadModule bench_hello_module %s\n" % C_MODULE
          + APP % ("bench-hello", ""), False),
    # Python's floor: take the GIL, call the same handler, give it back
    # (bench/mod_bench_pyfloor.c): what any module running Python pays.
    "floor": ({"hello.txt": BODY, "hello_floor.py": FLOOR_HELLO},
              "LoadModule bench_pyfloor_module %s\n" % FLOOR_MODULE
              + "BenchPyFloorScript {app}/hello_floor.py\n"
              + APP % ("bench-pyfloor", ""), False),
    "mp4": ({"hello.txt": BODY, "hello.py": HELLO},
            APP % ("mod_python", "    PythonHandler hello\n"), True),
    "mp4_imports": ({"hello.txt": BODY, "page.py": IMPORTS},
                    APP % ("mod_python", "    PythonHandler page\n"), True),
    # The same, loaded at child start (PythonImport): a new child's first
    # request no longer creates the interpreter and imports.
    "mp4_preload": ({"hello.txt": BODY, "page.py": IMPORTS},
                    "PythonImport {app}/page.py localhost\n"
                    + APP % ("mod_python", "    PythonHandler page\n"), True),
}
LABELS = {
    "static": "static file",
    "c": "C handler",
    "floor": "Python floor (GIL + one call, bench/mod_bench_pyfloor.c)",
    "mp4": "mod_python 4, hello world",
    "mp4_imports": "mod_python 4, handler importing 6 stdlib modules",
    "mp4_preload": "same, loaded at child start (PythonImport)",
}


def server(mpm, kind, args):
    files, conf, ours = KINDS[kind]
    h = Httpd(mpm, prefix="mp-bench-restart-%s-%s-" % (mpm, kind))
    if args.pin:
        h.launcher = ["taskset", "-c", "0"]
    for path, text in files.items():
        h.write("htdocs/app/" + path, text)
    extra = "".join(line + "\n" for line in args.extra)
    h.config(conf.format(app=h.path("htdocs", "app")) + extra,
             mpm_settings=(MPM_SMALL if args.small else MPM_DEFAULTS)[mpm] + "KeepAliveTimeout 30\n",
             python_module=MODULE if ours else None,
             loglevel=args.loglevel)
    return h


def alive(pid):
    """Running and not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def server_processes(h):
    """Every live process started with this server's configuration: the
    parent and all children, also those no sample of children() saw."""
    out = []
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open("/proc/%s/cmdline" % d, "rb") as f:
                    cmd = f.read().split(b"\0")
            except OSError:
                continue
            if h.conf.encode() in cmd and alive(int(d)):
                out.append(int(d))
    return out


def parse_wrk(out):
    m = re.search(r"(\d+) requests in", out)
    r = {"requests": int(m.group(1)) if m else 0,
         "connect": 0, "read": 0, "write": 0, "timeout": 0, "non2xx": 0}
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        r.update(connect=int(m.group(1)), read=int(m.group(2)), write=int(m.group(3)),
                 timeout=int(m.group(4)))
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        r["non2xx"] = int(m.group(1))
    return r


def one_run(mpm, kind, args):
    """Start, load with restarts, stop: the wrk figures, plus the run's
    crashes and restarts seen in the error log."""
    h = server(mpm, kind, args)
    seen = set()
    wrk = None
    try:
        h.start()
        r = h.get("/app/hello.txt")
        if r.status != 200 or r.body != BODY.encode():
            raise RuntimeError("%s/%s answered %d %r:\n%s" % (mpm, kind, r.status, r.body,
                                                             h.log()[-2000:]))
        seen.add(h.pid())
        seen.update(h.children())
        cmd = ["wrk", "-t1", "-c%d" % args.connections, "-d%ds" % args.seconds,
               "--timeout", "%ds" % args.timeout, "http://127.0.0.1:%d/app/hello.txt" % h.port]
        wrk = subprocess.Popen((["taskset", "-c", "1"] if args.pin else []) + cmd,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        t0 = time.time()
        step = args.seconds / (args.restarts + 1)
        for i in range(args.restarts):
            time.sleep(max(0.0, t0 + step * (i + 1) - time.time()))
            seen.update(h.children())
            h.ctl("-k", "graceful")
        out = wrk.communicate(timeout=args.seconds + args.timeout + 60)[0]
        seen.update(h.children())
        # The last restart may still be under way: let it finish so every
        # run is stopped in the same state.
        wait_for(lambda: h.log().count("resuming normal operations") >= args.restarts + 1,
                 timeout=30)
        seen.update(h.children())
        log = h.log()
        h.stop()
        if not wait_for(lambda: not any(alive(p) for p in seen) and not server_processes(h),
                        timeout=30):
            raise RuntimeError("%s/%s: processes left after stop: %s" % (
                mpm, kind, sorted(set(p for p in seen if alive(p)) | set(server_processes(h)))))
        res = parse_wrk(out)
        res["restarts"] = log.count("resuming normal operations") - 1
        res["crashes"] = log.count("exit signal")
        if args.keep:
            res["log"] = log
        if res["requests"] == 0:
            raise RuntimeError("%s/%s: wrk made no request:\n%s" % (mpm, kind, out))
        return res
    finally:
        if wrk and wrk.poll() is None:
            wrk.kill()
            wrk.wait()
        left = server_processes(h)  # before cleanup() removes the tree
        h.cleanup()
        left = sorted(set(p for p in seen if alive(p)) | set(p for p in left if alive(p)))
        if left:
            raise RuntimeError("%s/%s: processes still alive: %s" % (mpm, kind, left))


def errors(r):
    return r["connect"] + r["read"] + r["write"] + r["timeout"] + r["non2xx"]


def table(results, kinds, args):
    lines = ["| MPM | server | requests | socket errors (connect/read/write/timeout) | "
             "non-2xx | errors per restart | errors per 1000 requests | ratio to static |",
             "| --- | --- | ---: | --- | ---: | ---: | ---: | ---: |"]
    for mpm in args.mpms:
        base = None
        for kind in kinds:
            r = results[mpm][kind]
            per = 1000.0 * errors(r) / max(1, r["requests"])
            if kind == "static":
                base = per
            ratio = "%.2f" % (per / base) if base else ("1.00" if kind == "static" else "n/a")
            note = ""
            if r["crashes"]:
                note += " (%d child crash%s)" % (r["crashes"], "es" if r["crashes"] > 1 else "")
            if r["restarts"] != args.restarts * args.rounds:
                note += " (%d restarts done)" % r["restarts"]
            restarts = args.restarts * args.rounds
            lines.append("| %s | %s%s | %d | %d/%d/%d/%d | %d | %s | %.2f | %s |" % (
                mpm, LABELS[kind], note, r["requests"], r["connect"], r["read"], r["write"],
                r["timeout"], r["non2xx"],
                "%.1f" % (errors(r) / restarts) if restarts else "n/a", per, ratio))
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=int, default=20)
    ap.add_argument("--restarts", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--connections", type=int, default=16)
    ap.add_argument("--timeout", type=int, default=5, help="wrk's per-request timeout, s")
    ap.add_argument("--mpms", default="prefork,worker,event")
    ap.add_argument("--kinds", default="static,c,mp4,mp4_imports")
    ap.add_argument("--extra", action="append", default=[],
                    help="a configuration line for every server (repeatable)")
    ap.add_argument("--small", action="store_true",
                    help="the integration suite's MPM settings instead of Debian's")
    ap.add_argument("--pin", action="store_true",
                    help="httpd on CPU 0, wrk on CPU 1 (default: any CPU, as in production; "
                    "pinned, Python's GIL costs nothing a C handler's threads do not)")
    ap.add_argument("--loglevel", default="warn")
    ap.add_argument("--keep", metavar="DIR", help="write each run's error log into DIR")
    args = ap.parse_args()
    args.mpms = args.mpms.split(",")
    kinds = args.kinds.split(",")
    if "static" not in kinds:
        kinds.insert(0, "static")
    if "c" in kinds or "floor" in kinds:
        build_c_modules()
    env = environment()
    keys = ("requests", "connect", "read", "write", "timeout", "non2xx", "restarts", "crashes")
    results = {m: {k: dict.fromkeys(keys, 0) for k in kinds} for m in args.mpms}
    for rnd in range(args.rounds):
        for mpm in args.mpms:
            for kind in kinds:
                r = one_run(mpm, kind, args)
                if args.keep:
                    os.makedirs(args.keep, exist_ok=True)
                    with open(os.path.join(args.keep, "%s-%s-%d.log" % (mpm, kind, rnd)),
                              "w") as f:
                        f.write(r.pop("log"))
                for k in keys:
                    results[mpm][kind][k] += r[k]
                print("round %d %-7s %-11s %7d requests, errors %d/%d/%d/%d, non-2xx %d, "
                      "%d restarts, %d crashes" % (
                          rnd + 1, mpm, kind, r["requests"], r["connect"], r["read"],
                          r["write"], r["timeout"], r["non2xx"], r["restarts"], r["crashes"]),
                      file=sys.stderr, flush=True)
    print("Date: %(date)s; machine: %(machine)s; httpd: %(httpd)s; Python %(python)s" % env)
    print("Method: %d round(s) per server, interleaved; wrk -t1 -c%d -d%ds --timeout %ds%s; "
          "%d graceful restarts per run, evenly spaced; %s MPM settings, KeepAlive On, "
          "KeepAliveTimeout 30%s"
          % (args.rounds, args.connections, args.seconds, args.timeout,
             " pinned to CPU 1, httpd pinned to CPU 0" if args.pin else ", neither pinned",
             args.restarts, "the integration suite's" if args.small else "Debian's default",
             "".join("; " + e for e in args.extra)))
    print()
    print(table(results, kinds, args))


if __name__ == "__main__":
    main()
