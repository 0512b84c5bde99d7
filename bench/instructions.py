"""CPU instructions per request, counted by valgrind's callgrind: a figure
that does not swing with the load of the machine, beside bench/run.py's CPU
time per request.

Each workload is an httpd of its own (prefork MPM, `httpd -X`: one
process, no children), run under `valgrind --tool=callgrind`, with a clean
environment and PYTHONHASHSEED=0 (the same dict and set layouts in every
run).  A run: start, one checked request, a warm-up of W keep-alive
requests (`ab -k -c 1`), then N more on a new connection, SIGTERM (httpd
exits and callgrind writes its file).  Start-up, the check, the warm-up
and the shut-down are the same in two runs of N1 and N2 requests, so

    instructions per request = (I(N2) - I(N1)) / (N2 - N1)

with I callgrind's total for the whole run; the same difference of
callgrind's per-function call counts gives malloc, Python allocator and
APR pool calls per request, and of callgrind_annotate's per-function costs
the breakdowns.  Every (N1, N2) pair runs twice: the two figures must
agree within about 1% (their spread is printed).

httpd started as root with -X still switches to User www-data before it
serves: callgrind opens its output file at start (as root) and writes it at
exit (as www-data), so the file is created beforehand, owned by www-data.
The raw files are kept in bench/build/callgrind/ (ignored by git):
`callgrind_annotate [--inclusive=yes] bench/build/callgrind/<key>-n<N>-r<rep>.out`.

Usage: /usr/bin/python3 bench/instructions.py [--quick] [--only KEY,...]
           [--jobs J]
--quick: N1=200, N2=400 after a warm-up of 50 (default 2000, 4000, 200).
Prints the table, the spread and the breakdowns; writes its section into
bench/RESULTS.md (replacing the one an earlier run wrote).  --only runs a
subset (no RESULTS.md section then).
"""
import argparse
import collections
import concurrent.futures
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import common  # noqa: E402  (bench/common.py: the servers and handlers of the comparison)
from common import BODY, KEYS, LABEL, PREFORK, WORKLOADS  # noqa: E402
from harness import HTTPD, RUN_USER  # noqa: E402

OUT = os.path.join(HERE, "build", "callgrind")
BODIES = {k: body for k, _, _, body in WORKLOADS}
TITLE = "## CPU instructions per request, callgrind (bench/instructions.py)"
VALGRIND = ["valgrind", "--tool=callgrind", "--dump-instr=no", "--collect-atstart=yes",
            "--vgdb=no"]


def servers(keys):
    """{key: Httpd} for the workloads in keys (trees written, not started):
    bench/common.py's, prefork, not pinned, PYTHONHASHSEED=0."""
    s = common.servers(keys, **PREFORK)
    for h in s.values():
        h.extra_env["PYTHONHASHSEED"] = "0"
        h.launcher = []
    return s


def ab(h, path, n):
    out = subprocess.run(["ab", "-k", "-c", "1", "-n", str(n), "-s", "120",
                          "http://127.0.0.1:%d%s" % (h.port, path)],
                         capture_output=True, text=True, timeout=3600)
    done = re.search(r"Complete requests:\s+(\d+)", out.stdout)
    failed = re.search(r"Failed requests:\s+(\d+)", out.stdout)
    kept = re.search(r"Keep-Alive requests:\s+(\d+)", out.stdout)
    if (out.returncode or not done or int(done.group(1)) != n or int(failed.group(1))
            or "Non-2xx" in out.stdout or not kept or int(kept.group(1)) != n):
        raise RuntimeError("%s: ab -n %d:\n%s%s\n%s" % (h.name, n, out.stdout, out.stderr,
                                                        h.log()[-3000:]))


def check(h, key, path, body):
    r = h.get(path, headers={"User-Agent": "check"}, timeout=120)
    if r.status != 200 or (body is not None and r.body != body):
        raise RuntimeError("%s answered %d %r:\n%s" % (h.name, r.status, r.body[:200],
                                                       h.log()[-3000:]))
    if key == "mp4_headers" and r.headers.get("X-Hello") != "yes":
        raise RuntimeError("%s: no X-Hello header: %s" % (h.name, r.headers))
    if key == "static_mp4":
        r = h.get("/py/x", timeout=120)  # the Python handler is there, and works
        if r.status != 200 or r.body != BODY:
            raise RuntimeError("%s /py answered %d:\n%s" % (h.name, r.status, h.log()[-3000:]))


class Runner:
    """Runs httpd -X under callgrind; stops whatever it started."""

    def __init__(self):
        self.procs = {}
        self.closed = False
        self.lock = threading.Lock()

    def run(self, h, key, path, body, n, warmup, dest):
        """One run: its callgrind file copied to dest; its total."""
        cgdir = h.path("callgrind-%d" % n)
        os.makedirs(cgdir, exist_ok=True)
        out = os.path.join(cgdir, "callgrind.out")
        user = pwd.getpwnam(RUN_USER)
        with open(out, "w"):
            pass
        os.chown(out, user.pw_uid, user.pw_gid)
        if os.path.exists(h.pidfile):
            os.unlink(h.pidfile)
        # its own session: Ctrl-C reaches this script only, which stops it
        with open(os.path.join(cgdir, "valgrind.log"), "w") as log, self.lock:
            if self.closed:
                raise RuntimeError("stopped")
            p = subprocess.Popen(VALGRIND + ["--callgrind-out-file=" + out,
                                             HTTPD, "-f", h.conf, "-X"],
                                 env=h.env(), stdout=log, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, start_new_session=True)
            self.procs[p.pid] = p
        try:
            self.wait_up(h, p)
            check(h, key, path, body)
            ab(h, path, warmup)
            ab(h, path, n)
        finally:
            self.stop(p)
        shutil.copyfile(out, dest)
        if os.path.exists(h.pidfile):
            os.unlink(h.pidfile)  # the -X process does not remove it
        return total(dest)

    def wait_up(self, h, p, timeout=300):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if p.poll() is not None:
                break
            if h.pid() == p.pid:
                try:
                    h.get("/", timeout=60)
                    return
                except OSError:
                    pass
            time.sleep(0.1)
        raise RuntimeError("%s did not come up under valgrind:\n%s" % (h.name, h.log()[-3000:]))

    def stop(self, p):
        """SIGTERM (callgrind writes its file as httpd exits), then wait.
        prefork's single process only leaves its accept loop when a signal
        interrupts its poll(): one that arrives earlier (while it still
        closes ab's connection, say) sets the flag and is missed, so SIGTERM
        goes again every 2 s until it exits (a few hundred instructions
        each, against the tens of millions of instructions of N2 - N1
        requests)."""
        deadline = time.time() + 300
        while p.poll() is None:
            if time.time() > deadline:
                p.kill()
                p.wait()
                raise RuntimeError("httpd -X (pid %d) did not stop on SIGTERM" % p.pid)
            os.kill(p.pid, signal.SIGTERM)
            try:
                p.wait(timeout=2)
            except subprocess.TimeoutExpired:
                pass
        with self.lock:
            self.procs.pop(p.pid, None)

    def stop_all(self):
        """Stop every server running, and start no more."""
        with self.lock:
            self.closed = True
            procs = list(self.procs.values())
        for p in procs:
            try:
                self.stop(p)
            except Exception as e:  # noqa: BLE001  (going on to stop the others)
                print("stopping %d: %s" % (p.pid, e), file=sys.stderr)


def total(path):
    """callgrind's total Ir of a file."""
    with open(path) as f:
        for line in f:
            if line.startswith(("summary:", "totals:")):
                return int(line.split()[1])
    raise RuntimeError("no totals in " + path)


def call_counts(path):
    """{function name: calls to it} from a callgrind file (the calls= lines,
    summed over callers; 'N recursion suffixes dropped)."""
    names = {}
    counts = collections.Counter()
    callee = None
    with open(path) as f:
        for line in f:
            if line.startswith(("fn=", "cfn=")):
                kind, _, rest = line.rstrip("\n").partition("=")
                m = re.match(r"\((\d+)\)(?: (.*))?$", rest)
                if m:
                    if m.group(2) is not None:
                        names[m.group(1)] = m.group(2)
                    name = names[m.group(1)]
                else:
                    name = rest
                if kind == "cfn":
                    callee = re.sub(r"'\d+$", "", name)
            elif line.startswith("calls="):
                counts[callee] += int(line[6:].split()[0])
    return counts


ANNOTATE_LINE = re.compile(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(.*?):(.+?)(?: \[(.*)\])?\s*$")
WHERE = collections.defaultdict(lambda: {"files": set(), "objects": set()})


def annotate(path, inclusive):
    """{function: Ir} from callgrind_annotate (every function).

    callgrind_annotate lists a function once per source file its code came
    from (inlined header code, parts without line information: ???), and
    names its object on some of those lines only, not always the same one
    from run to run: so the lines are merged by function name, their self
    costs summed, their inclusive costs the largest of them.  Where each
    name was seen goes to WHERE."""
    out = subprocess.run(["callgrind_annotate", "--threshold=100", "--auto=no",
                          "--inclusive=" + ("yes" if inclusive else "no"), path],
                         capture_output=True, text=True, check=True).stdout
    costs = collections.Counter()
    for line in out.split("file:function", 1)[1].splitlines():
        m = ANNOTATE_LINE.match(line)
        if not m:
            continue
        ir, src, fn, obj = int(m.group(1).replace(",", "")), m.group(2), m.group(3), m.group(4)
        fn = re.sub(r"'\d+$", "", fn)
        if src != "???":
            WHERE[fn]["files"].add(src)
        if obj:
            WHERE[fn]["objects"].add(obj)
        costs[fn] = max(costs[fn], ir) if inclusive else costs[fn] + ir
    return costs


def per_request(c2, c1, n):
    """{key: (c2 - c1) / n}: a run of N2 minus a run of N1, per request."""
    return {k: (c2.get(k, 0) - c1.get(k, 0)) / n for k in set(c2) | set(c1)}


# Allocation figures per request: calls to these functions.  Debian's
# libpython has pymalloc inlined into PyObject_Malloc and friends (no
# _PyObject_Malloc or pymalloc_alloc of their own to count); a call that
# LTO inlined into libpython's own code would not be seen.  httpd's
# r->pool bytes cannot be read from outside: its apr_palloc calls instead.
ALLOC_ROWS = [
    ("malloc, calloc, realloc", ("malloc", "calloc", "realloc")),
    ("free (also free(NULL))", ("free",)),
    ("PyObject_Malloc, PyObject_Calloc, PyObject_Realloc (pymalloc)", (
        "PyObject_Malloc", "PyObject_Calloc", "PyObject_Realloc")),
    ("PyObject_Free", ("PyObject_Free",)),
    ("PyMem_Malloc/Calloc/Realloc, PyMem_RawMalloc/Calloc/Realloc", (
        "PyMem_Malloc", "PyMem_Calloc", "PyMem_Realloc",
        "PyMem_RawMalloc", "PyMem_RawCalloc", "PyMem_RawRealloc")),
    ("apr_palloc, apr_pcalloc (pool allocations)", ("apr_palloc", "apr_pcalloc")),
    ("apr_pool_create_ex (new pools)", ("apr_pool_create_ex",)),
    ("apr_allocator_alloc (pool blocks from the allocator)", ("apr_allocator_alloc",)),
    ("poll (httpd waited for the next request: see the notes)", ("poll",)),
]


def ours(fn):
    """Our module's functions: mp_*, or from src/ or our mod_python.so."""
    w = WHERE[fn]
    return (fn.startswith("mp_") or any(f.startswith(common.ROOT + "/src/") for f in w["files"])
            or any(o.startswith(common.ROOT + "/src/") for o in w["objects"]))


def where(fn):
    """A function's name, with the file and object it came from."""
    w = WHERE[fn]
    files = sorted({os.path.basename(f) for f in w["files"] if not f.endswith(".h")})
    files = files or sorted({os.path.basename(f) for f in w["files"]})
    objs = sorted({os.path.basename(o) for o in w["objects"]})
    return "%s%s%s" % (fn, " (%s)" % ", ".join(files[:2]) if files else "",
                       " [%s]" % ", ".join(objs) if objs else "")


def breakdown(a, b, files, n1, n2, top=25):
    """Markdown lines: per function, instructions per request of workload a
    minus workload b, self and inclusive, the top `top` by difference."""
    lines = []
    for inclusive in (False, True):
        pr = {}
        for key in (a, b):
            c2 = annotate(files[key, n2], inclusive)
            c1 = annotate(files[key, n1], inclusive)
            pr[key] = per_request(c2, c1, n2 - n1)
        names = set(pr[a]) | set(pr[b])
        if inclusive:
            # not the frames around every request (main ... ap_process_connection):
            # their difference is the whole difference
            whole = {k: max(pr[k].values()) for k in (a, b)}
            names = {n for n in names if not (pr[a].get(n, 0) >= 0.99 * whole[a] and
                                              pr[b].get(n, 0) >= 0.99 * whole[b])}
        diff = {k: pr[a].get(k, 0.0) - pr[b].get(k, 0.0) for k in names}
        rows = sorted(diff.items(), key=lambda kv: (-kv[1], kv[0]))[:top]
        kind = "inclusive" if inclusive else "self"
        lines += ["", "**%s (%s) vs %s (%s), %s**: instructions per request by function, "
                  "the top %d by difference; \\* = ours%s" % (
                      LABEL[a], a, LABEL[b], b, kind, top,
                      "; the frames that hold the whole request left out" if inclusive else ""),
                  "", "| function | %s | %s | difference |" % (a, b),
                  "| --- | ---: | ---: | ---: |"]
        for name, d in rows:
            lines.append("| %s%s | %.0f | %.0f | %+.0f |" % (
                "\\* " if ours(name) else "", where(name).replace("|", "\\|"),
                pr[a].get(name, 0.0), pr[b].get(name, 0.0), d))
        if not inclusive:
            sa, sb = sum(pr[a].values()), sum(pr[b].values())
            mine = sum(d for n, d in diff.items() if ours(n))
            lines += ["", "All functions: %s %.0f, %s %.0f, difference %+.0f, of which %+.0f "
                      "in our functions (self)." % (a, sa, b, sb, sa - sb, mine)]
    return lines


def versions():
    env = common.environment()
    env["valgrind"] = subprocess.run(["valgrind", "--version"], capture_output=True,
                                     text=True).stdout.strip()
    return env


def report(env, ipr, spread, allocs, args, took, breakdowns):
    n1, n2, w = args.n1, args.n2, args.warmup
    c, floor = ipr.get("c"), ipr.get("floor")
    lines = [TITLE, "",
             "Issue 16.  `/usr/bin/python3 bench/instructions.py [--quick]`: a figure that "
             "does not swing with the machine's load, beside the CPU time of the table at the "
             "top; every workload is its own httpd -X under valgrind's callgrind.", "",
             "Date: %(date)s  " % env, "Machine: %(machine)s  " % env,
             "httpd: %(httpd)s, prefork MPM, httpd -X (one process)  " % env,
             "Python: %(python)s; %(valgrind)s  " % env,
             "Method: callgrind's total instructions (Ir) of a whole run of httpd -X: "
             "a checked request, %d keep-alive requests of warm-up (`ab -k -c 1`), then N "
             "more; (I(N=%d) - I(N=%d)) / %d, mean of two repetitions; PYTHONHASHSEED=0. "
             "This run (%s): %.1f min." % (w, n2, n1, n2 - n1,
                                          "--quick" if args.quick else "full", took / 60), "",
             "| # | server | instructions per request | ratio to C | ratio to the floor | "
             "spread of 2 runs |", "| ---: | --- | ---: | ---: | ---: | ---: |"]
    for i, (key, label, _, _) in enumerate(WORKLOADS, 1):
        if key not in ipr:
            continue
        v = ipr[key]
        lines.append("| %d | %s | %.0f | %s | %s | %.3f%%%s |" % (
            i, label, v, "%.2f" % (v / c) if c else "n/a",
            "%.2f" % (v / floor) if floor else "n/a", spread[key] * 100,
            " (over 1%!)" if spread[key] > 0.01 else ""))
    ratios = [("autoreload On / frozen (6/7)", "mp4_chain", "mp4_frozen"),
              ("static file, mod_python 4 loaded / not loaded (8/9)", "static_mp4", "static"),
              ("realistic configuration / the floor (10/2)", "mp4_real", "floor"),
              ("hello world / the floor (3/2)", "mp4", "floor"),
              ("mod_python 4 / mod_python 3.5 (3/4)", "mp4", "mp35"),
              ("mod_python 4 / mod_wsgi (3/5)", "mp4", "wsgi"),
              ("headers touched / hello world (11/3)", "mp4_headers", "mp4")]
    lines.append("")
    for label, a, b in ratios:
        if a in ipr and b in ipr:
            lines.append("* %s: %.3f (%+.0f instructions)" % (label, ipr[a] / ipr[b],
                                                              ipr[a] - ipr[b]))
    worst = max(spread, key=spread.get)
    lines.append("* spread of the two repetitions, |a - b| / mean: at most %.3f%% (%s): %s" % (
        spread[worst] * 100, worst, "every workload within 1%" if spread[worst] <= 0.01
        else "NOT within 1%"))
    keys = [k for k, _, _, _ in WORKLOADS if k in allocs]
    lines += ["", "Calls per request (the same runs, callgrind's call counts, first "
              "repetition):", "",
              "| calls to | " + " | ".join(keys) + " |",
              "| --- |" + " ---: |" * len(keys)]
    for label, fns in ALLOC_ROWS:
        vals = [sum(allocs[k].get(f, 0.0) for f in fns) for k in keys]
        lines.append("| %s | %s |" % (label, " | ".join("%.1f" % v for v in vals)))
    lines += ["", "Notes:", "",
              "* Instructions are user-space work only: system calls (the kernel's "
              "share of CPU time), cache misses and waiting are not in them, so the ratios "
              "here are smaller than bench/run.py's CPU time ratios.",
              "* A static file's response (and mod_wsgi's) leaves before httpd looks for a "
              "pipelined request, so whether ab's next request is already there when it looks "
              "depends on timing (the poll row: a fraction, even below zero); either way costs "
              "a request some tens of instructions at most, within the spread, but the "
              "functions of that path (apr_socket_recv, apr_wait_for_io_or_timeout, "
              "ap_core_output_filter) can show in the static pair's breakdown with a few tens "
              "either way.",
              "* Python allocations are calls to PyObject_Malloc and friends; Debian's "
              "libpython has pymalloc inlined into them, and a call inlined into libpython's "
              "own code would not be counted.  mod_python 4's hello world allocates no "
              "Python object per request; its one free() is free(NULL) (mp_body_release)."]
    lines += breakdowns
    lines += ["", "Raw files: bench/build/callgrind/<key>-n<N>-r<repetition>.out "
              "(`callgrind_annotate [--inclusive=yes] FILE`)."]
    return "\n".join(lines) + "\n"


def arguments(ap):
    ap.add_argument("--quick", action="store_true", help="N1=200, N2=400, warm-up 50")
    ap.add_argument("--jobs", type=int, default=1,
                    help="valgrind runs at once (the counts do not depend on it)")


def counts(args, keys):
    """Every run of the workloads in keys: ({(key, N, repetition): total
    Ir}, {(key, N): the first repetition's callgrind file})."""
    os.makedirs(OUT, exist_ok=True)
    runner = Runner()
    s = {}
    files = {}
    totals = {}

    def job(key, n, rep):
        h = s[key]
        dest = os.path.join(OUT, "%s-n%d-r%d.out" % (key, n, rep))
        t = time.time()
        totals[key, n, rep] = runner.run(h, key, common.URL[key], BODIES[key], n,
                                         args.warmup, dest)
        if rep == 1:
            files[key, n] = dest
        print("%-12s N=%-5d rep %d: %15s Ir (%.0f s)" % (key, n, rep,
                                                       "{:,}".format(totals[key, n, rep]),
                                                       time.time() - t), file=sys.stderr)

    def runs_of(key):
        # one server's runs one after the other (they share its tree)
        for rep in (1, 2):
            for n in (args.n1, args.n2):
                job(key, n, rep)

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs)
    try:
        s.update(servers(keys))
        for f in [pool.submit(runs_of, k) for k in keys]:
            f.result()
    finally:
        # on an error or Ctrl-C: no new runs, the running ones stopped (their
        # ab then fails at once), then the trees removed
        pool.shutdown(wait=False, cancel_futures=True)
        runner.stop_all()
        pool.shutdown(wait=True)
        common.cleanup(s)
    return totals, files


def measure_all(args, keys=KEYS):
    """Count, then the figures of report(): {env, ipr, spread, allocs,
    breakdowns, took} (ipr: instructions per request by key)."""
    args.n1, args.n2, args.warmup = (200, 400, 50) if args.quick else (2000, 4000, 200)
    t0 = time.time()
    env = versions()
    totals, files = counts(args, keys)
    ipr, spread, allocs = {}, {}, {}
    for key in keys:
        a, b = [(totals[key, args.n2, r] - totals[key, args.n1, r]) / (args.n2 - args.n1)
                for r in (1, 2)]
        ipr[key] = (a + b) / 2
        spread[key] = abs(a - b) / ipr[key]
        allocs[key] = per_request(call_counts(files[key, args.n2]),
                                  call_counts(files[key, args.n1]), args.n2 - args.n1)
    breakdowns = []
    for a, b in (("mp4", "floor"), ("static_mp4", "static")):
        if a in keys and b in keys:
            breakdowns += breakdown(a, b, files, args.n1, args.n2)
    return {"env": env, "ipr": ipr, "spread": spread, "allocs": allocs,
            "breakdowns": breakdowns, "took": time.time() - t0}


def main():
    ap = argparse.ArgumentParser()
    arguments(ap)
    ap.add_argument("--only", help="comma-separated workload keys: " + ",".join(KEYS))
    args = ap.parse_args()
    keys = [k for k in KEYS if not args.only or k in args.only.split(",")]
    common.build_c_modules()
    r = measure_all(args, keys)
    text = report(r["env"], r["ipr"], r["spread"], r["allocs"], args, r["took"],
                  r["breakdowns"])
    print(text)
    if not args.only:
        common.save(text)
    print("took %.0f s" % r["took"], file=sys.stderr)


if __name__ == "__main__":
    main()
