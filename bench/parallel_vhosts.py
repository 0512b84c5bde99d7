"""Two virtual hosts under load at once: PythonInterpreterGIL own vs shared
(issue 15).

With `own` each virtual host's sub-interpreter has its own GIL (PEP 684,
Python 3.12+), so CPU-bound handlers of two hosts can run on two cores at
once; with `shared` (the default) they take turns.  The module is built
here against pyenv's 3.12 (or 3.13) build, as
scripts/pythons.py builds it (as the test matrix does), from a copy of the
files git tracks; the system Python (3.11) has no own GIL, so without such
a build the script says so and exits 0.

1. Throughput.  One httpd per setting, worker MPM, one child of 8 threads,
   not pinned (both cores); two virtual hosts, a.test and b.test, each
   with the same handler: a fixed pure-Python loop of about 2 ms
   (iterations calibrated once, before any server starts, with the same
   Python build: its rate over 1 s, median of 3; the same count for every
   server).  Load: two wrk processes at once, one per host (-t1 -c4, Host
   header), for N seconds after a 2 s warm-up of the same.  The two
   servers are measured in interleaved rounds (shared, own, shared, own,
   ...); medians.  Server CPU: utime+stime of the child (all its threads)
   from /proc over the measured seconds, as a share of one core (200% =
   both cores); beside it the child's threads that used more than 10% of a
   core, wrk's CPU (rusage of the reaped wrk processes) and everything
   else's (the machine's busy time from /proc/stat, hypervisor steal
   included, less those two).
   Other sessions' builds and tests share this machine's 2 cores: before
   each measurement (and the calibration) the script waits, --quiet-wait
   seconds at most, for a second in which the machine was busy less than
   a quarter of a core, and a measurement during which other processes
   used more than --max-other % of a core is made again (twice more at
   most; the least disturbed attempt is kept, and the report says how
   many were repeated).
   Two controls: the handler's loop alone (its thread CPU time, timed in
   the handler, one request at a time, 41 per server, interleaved), and
   the machine's own limit without httpd, in each round: the same loop in
   plain Python processes of the same build, one alone, then two at once
   (how much two cores give here; own / shared cannot do better).
2. Per-interpreter cost.  A fresh server per setting with 10 virtual
   hosts (--hosts); the child's VmRSS before the first request, then after
   the first request to each host in turn (each creates that host's
   interpreter): the first is the one-host figure, the others what each
   further host adds; RssAnon beside it (the first interpreter also
   faults in libpython's pages, file-backed).  The handler files are dated a minute back, so that
   the importer's wait for a file written in the last 2 s is not counted.
   Creation time from the error log (LogLevel python:debug, microsecond
   timestamps): from mod_log_debug's line at the fixups hook of the
   request to mod_python's "MP00005: created interpreter" line of the same
   thread (the interpreter is made in the handler phase, so this is its
   creation and set-up, with the few hooks between).  The client's view is
   beside it: first request to a host minus its second (creation plus the
   handler module's first import).  --rounds fresh servers per setting,
   interleaved; medians.

Figures only, no assertions.  Every server is stopped on the way out
(also on failure or Ctrl-C).

Usage: /usr/bin/python3 bench/parallel_vhosts.py [--python 3.12]
       [--seconds N] [--rounds N] [--hosts N] [--quiet-wait S]
       [--max-other PERCENT]
Prints its tables (markdown, as in bench/RESULTS.md); progress on stderr.
"""
import argparse
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "test", "integration"))
from harness import Httpd, handler_vhost, one_child  # noqa: E402
sys.path.insert(0, os.path.join(ROOT, "scripts"))
from pythons import build, pyenv_builds, readable_copy  # noqa: E402
from common import environment  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
THREADS = 8
CONNECTIONS = 4          # per host
TARGET_MS = 2.0          # the handler's work per request

# The work: a fixed loop of integer arithmetic, nothing that lets the GIL
# go.  The same text is run by the calibration and by the handlers.
WORK = '''
def work(n):
    x = 0
    for i in range(n):
        x = (x * 31 + i) & 0xFFFFF
    return x
'''

HANDLER = WORK + '''
import sys, time
from mod_python import apache
N = {n}

def handler(req):
    if req.args == "info":
        body = "%s %s %s" % (apache.interpreter, apache.interpreter_gil, sys.version.split()[0])
    elif req.args == "time":
        t = time.thread_time_ns()
        work(N)
        body = str(time.thread_time_ns() - t)
    else:
        body = "%s %s %d\\n" % (apache.interpreter, apache.interpreter_gil, work(N))
    body = body.encode()
    req.content_type = "text/plain"
    req.set_content_length(len(body))
    req.write(body)
    return apache.OK
'''

CALIBRATE = WORK + '''
import statistics, time
rates = []
for _ in range(3):
    k, t = 0, time.perf_counter()
    while time.perf_counter() - t < 1.0:
        work(10000)
        k += 10000
    rates.append(k / (time.perf_counter() - t))
print(int(statistics.median(rates) * {target} / 1000.0))
'''



class Stop(Exception):
    """SIGTERM: leave through the finally clauses, as Ctrl-C does."""


def on_sigterm(signum, frame):
    raise Stop()


def cleanup(servers):
    """Stop every server, Ctrl-C and SIGTERM held off meanwhile."""
    old = signal.signal(signal.SIGINT, signal.SIG_IGN), signal.signal(signal.SIGTERM,
                                                                        signal.SIG_IGN)
    try:
        for h in servers:
            h.cleanup()
    finally:
        signal.signal(signal.SIGINT, old[0])
        signal.signal(signal.SIGTERM, old[1])


# ------------------------------------------------------------------ build

def python_cmd(prefix, minor, code):
    """(argv, env) running `code` in the plain Python of `prefix`."""
    return ([os.path.join(prefix, "bin", "python" + minor), "-c", code],
            {"PATH": "/usr/bin:/bin", "LD_LIBRARY_PATH": os.path.join(prefix, "lib"),
             "PYTHONHOME": prefix})


def python_run(prefix, minor, code):
    argv, env = python_cmd(prefix, minor, code)
    return subprocess.run(argv, env=env, check=True, capture_output=True,
                          text=True).stdout.strip()


def calibrate(prefix, minor):
    """Iterations of work() for TARGET_MS, in this Python build (its rate
    over 1 s, median of 3, on a quiet machine)."""
    return int(python_run(prefix, minor, CALIBRATE.format(target=TARGET_MS)))


# ------------------------------------------------------------ the servers

def host_names(n):
    return ["a.test", "b.test"] + ["h%d.test" % i for i in range(3, n + 1)]


def server(so, prefix, gil, n_work, hosts, debug=False):
    h = Httpd("worker", prefix="mp-bench-gil-%s-" % gil)
    # The Python half from the build tree too (its configure wrote
    # mod_python/version.py, which git does not track).
    shutil.rmtree(h.path("lib"))
    shutil.copytree(os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(so))),
                                 "lib", "python"), h.path("lib"))
    body = "PythonHome %s\n" % prefix
    inner = ""
    loglevel = "warn"
    modules = ()
    if debug:
        # mod_log_debug marks the request's fixups; mod_python's MP00005
        # line follows once the handler phase has made the interpreter.
        modules = ("log_debug",)
        loglevel = "warn python:debug log_debug:info"
        body += 'ErrorLogFormat "[%{cu}t] [%-m:%l] [tid %T] %M"\n'
        inner = '        LogMessage "mp-bench fixups" hook=fixups\n'
    for name in hosts:
        d = h.path("htdocs", name)
        p = h.write("htdocs/%s/handler.py" % name, HANDLER.format(n=n_work))
        # Written a minute ago: the importer reads a file changed in the
        # last 2 s only after 100 ms without an event (a writer may still
        # have it open), which would count in a first request's time.
        os.utime(p, (time.time() - 60, time.time() - 60))
        body += handler_vhost(h, name, d, "PythonInterpreterGIL " + gil, inner)
    h.config(body, loglevel=loglevel, modules=modules,
             mpm_settings=one_child("worker", THREADS), python_module=so)
    h.gil = gil
    return h


def child(h):
    kids = h.children()
    if len(kids) != 1:
        raise RuntimeError("%d children, expected one" % len(kids))
    return kids[0]


def proc_stat(pid, tid=None):
    path = "/proc/%d/stat" % pid if tid is None else "/proc/%d/task/%d/stat" % (pid, tid)
    with open(path) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def thread_cpu(pid):
    out = {}
    for t in os.listdir("/proc/%d/task" % pid):
        try:
            out[int(t)] = proc_stat(pid, int(t))
        except OSError:
            pass
    return out


def rss(pid, what="VmRSS"):
    """VmRSS (or RssAnon: the part not backed by files) of `pid`, bytes."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(what + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no " + what)


def wrk_start(h, host, seconds):
    return subprocess.Popen(["wrk", "-t1", "-c%d" % CONNECTIONS, "-d%ds" % seconds,
                             "--timeout", "10s", "-H", "Host: " + host,
                             "http://127.0.0.1:%d/x" % h.port],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wrk_result(p, what):
    out, err = p.communicate()
    if p.returncode != 0:
        raise RuntimeError("wrk (%s) failed: %s%s" % (what, out, err))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sockets = re.search(r"Socket errors: .*", out)
    if errors or sockets:
        raise RuntimeError("%s: errors\n%s" % (what, out))
    return int(re.search(r"(\d+) requests in", out).group(1))


def machine_busy():
    """Seconds of CPU the whole machine spent busy (all cores), /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    return (sum(v) - v[3] - v[4]) / TICK


def wait_quiet(limit, most=25.0):
    """Wait (at most `limit` seconds) for a second in which the machine was
    busy less than `most`% of one core: other sessions' builds and tests
    share these 2 cores.  Returns the seconds waited."""
    t0 = time.time()
    while time.time() - t0 < limit:
        b0, w0 = machine_busy(), time.time()
        time.sleep(1)
        if (machine_busy() - b0) / (time.time() - w0) * 100 < most:
            break
    else:
        print("  the machine stayed busy for %d s: measuring anyway" % limit, file=sys.stderr)
    return time.time() - t0


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def load(h, seconds, hosts=("a.test", "b.test")):
    """Both hosts loaded at once for `seconds`: ({host: requests/s},
    child CPU as % of one core, threads over 10% of a core, wrk's CPU %,
    everything else's CPU % (other processes of the machine))."""
    pid = child(h)
    procs = []
    try:
        c0, t0, w0 = proc_stat(pid), thread_cpu(pid), time.time()
        m0, k0 = machine_busy(), children_cpu()
        procs = [wrk_start(h, host, seconds) for host in hosts]
        reqs = [wrk_result(p, "%s %s" % (h.gil, host)) for p, host in zip(procs, hosts)]
        took = time.time() - w0
        c1, t1 = proc_stat(pid), thread_cpu(pid)
        m1, k1 = machine_busy(), children_cpu()
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    busy = sum(1 for t, v in t1.items() if (v - t0.get(t, 0)) / took > 0.10)
    # wrk counts over its own -d seconds; `took` adds its start and exit.
    server, client = (c1 - c0) / took * 100, (k1 - k0) / took * 100
    return ({host: r / seconds for host, r in zip(hosts, reqs)}, server, busy, client,
            (m1 - m0) / took * 100 - server - client)


def measured(what, fn, args):
    """fn() -> (figures, other processes' CPU %), after a wait for a quiet
    machine; measured again (twice more at most) while other processes
    used more than --max-other % of a core meanwhile, and the least
    disturbed attempt kept.  (figures, others %, attempts made)."""
    best = None
    for attempt in range(1, 4):
        wait_quiet(args.quiet_wait)
        got, other = fn()
        if best is None or other < best[1]:
            best = (got, other)
        if other <= args.max_other:
            break
        print("  %s: other processes used %.0f%% of a core meanwhile%s" % (
            what, other, ", measuring again" if attempt < 3 else ""), file=sys.stderr)
    return best + (attempt,)


CEILING = WORK + '''
import time
n, end, k = {n}, time.perf_counter() + {seconds}, 0
while time.perf_counter() < end:
    work(n)
    k += 1
print(k)
'''


def ceiling(prefix, minor, n_work, seconds):
    """The machine's own limit, without httpd: the same loop in plain
    Python processes, one alone and then two at once.  ((loops/s of one,
    loops/s of two together), other processes' CPU % during the two)."""
    def run(count):
        argv, env = python_cmd(prefix, minor, CEILING.format(n=n_work, seconds=seconds))
        m0, k0, w0 = machine_busy(), children_cpu(), time.time()
        procs = [subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, text=True)
                 for _ in range(count)]
        try:
            loops = sum(int(p.communicate()[0]) for p in procs)
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        took = time.time() - w0
        other = ((machine_busy() - m0) - (children_cpu() - k0)) / took * 100
        return loops / seconds, other
    one, o1 = run(1)
    two, o2 = run(2)
    return (one, two), max(o1, o2)


def throughput(servers, prefix, minor, n_work, args):
    """Interleaved rounds: ({gil: [(rps per host, cpu%, busy threads, µs CPU
    per request, wrk's CPU %, other processes' CPU %, attempts)]}, {gil: the
    handler's loop alone, µs of thread CPU, median of 41 requests one at a
    time, the servers interleaved}, [(plain Python: one process, two
    processes, others %, attempts)] one per round)."""
    out = {h.gil: [] for h in servers}
    alone = {h.gil: [] for h in servers}
    control = []
    for h in servers:
        h.start()
        for host in ("a.test", "b.test"):
            r = h.get("/x?info", host=host)
            if r.status != 200 or r.text.split()[:2] != [host, h.gil]:
                raise RuntimeError("%s %s answered %d %r:\n%s" % (
                    h.gil, host, r.status, r.text, h.log()[-3000:]))
    wait_quiet(args.quiet_wait)
    for _ in range(41):
        for h in servers:
            alone[h.gil].append(int(h.get("/x?time", host="a.test").text) / 1000)
    alone = {gil: med(v) for gil, v in alone.items()}

    def one_server(h):
        load(h, 2)  # warm-up
        rps, cpu, busy, client, other = load(h, args.seconds)
        return (rps, cpu, busy, client), other

    for rnd in range(args.rounds):
        for h in servers:
            (rps, cpu, busy, client), other, tries = measured(
                "round %d %s" % (rnd + 1, h.gil), lambda: one_server(h), args)
            total = sum(rps.values())
            per_req = cpu / 100 / total * 1e6
            out[h.gil].append((rps, cpu, busy, per_req, client, other, tries))
            print("round %d %-6s a.test %6.1f req/s  b.test %6.1f req/s  total %6.1f  "
                  "CPU %5.1f%%  busy threads %d  %.0f µs CPU/req  wrk %.0f%%  others %.0f%%" % (
                      rnd + 1, h.gil, rps["a.test"], rps["b.test"], total, cpu, busy, per_req,
                      client, other), file=sys.stderr)
        (one, two), other, tries = measured(
            "round %d plain Python" % (rnd + 1),
            lambda: ceiling(prefix, minor, n_work, min(args.seconds, 5)), args)
        control.append((one, two, other, tries))
        print("round %d plain Python, the same loop: one process %.1f loops/s, two at once "
              "%.1f (x%.2f)  others %.0f%%" % (rnd + 1, one, two, two / one, other),
              file=sys.stderr)
    return out, alone, control


# ------------------------------------------------------ per-interpreter cost

STAMP = re.compile(r"^\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6})\] \[([^\]]*)\] \[tid (\d+)\] (.*)$")


def stamp_seconds(s):
    day, clock = s.split(" ")
    hh, mm, ss = clock.split(":")
    return int(hh) * 3600 + int(mm) * 60 + float(ss)


def creation_times(log):
    """{interpreter name: seconds from its request's fixups line to its
    MP00005 line}, pairing lines by thread."""
    fixups, out = {}, {}
    for line in log.splitlines():
        m = STAMP.match(line)
        if not m:
            continue
        t, tid, msg = stamp_seconds(m.group(1)), m.group(3), m.group(4)
        if "mp-bench fixups" in msg:
            fixups[tid] = t
        else:
            c = re.search(r"MP00005: .*created interpreter '([^']*)' \((\w+) GIL\)", msg)
            if c and tid in fixups:
                out[c.group(1)] = (t - fixups.pop(tid), c.group(2))
    return out


def timed_get(h, host):
    t = time.perf_counter()
    r = h.get("/x", host=host)
    took = time.perf_counter() - t
    if r.status != 200:
        raise RuntimeError("%s answered %d:\n%s" % (host, r.status, h.log()[-3000:]))
    return took


def interpreters(so, prefix, gil, n_work, n_hosts):
    """One fresh server: child RSS before any request, RSS after each host's
    first request, creation times (log) and first - second request."""
    hosts = host_names(n_hosts)
    h = server(so, prefix, gil, n_work, hosts, debug=True)
    try:
        h.start()
        pid = child(h)
        time.sleep(0.5)   # the child's start-up done
        before, anon = rss(pid), [rss(pid, "RssAnon")]
        after, client = [], []
        for host in hosts:
            first = timed_get(h, host)
            second = timed_get(h, host)
            after.append(rss(pid))
            anon.append(rss(pid, "RssAnon"))
            client.append(first - second)
        time.sleep(0.2)
        made = creation_times(h.log())
        missing = [x for x in hosts if x not in made]
        if missing:
            raise RuntimeError("no creation line for %s:\n%s" % (missing, h.log()[-3000:]))
        kinds = {made[x][1] for x in hosts}
        if kinds != {gil}:
            raise RuntimeError("asked for %s GIL, got %s" % (gil, kinds))
        return {"before": before, "after": after, "log": [made[x][0] for x in hosts],
                "anon": [b - a for a, b in zip(anon, anon[1:])],
                "client": client}
    finally:
        cleanup([h])


def memory(so, prefix, n_work, args):
    """{gil: [one dict of interpreters() per round]}, fresh servers, interleaved."""
    out = {"shared": [], "own": []}
    for rnd in range(args.rounds):
        for gil in out:
            r = interpreters(so, prefix, gil, n_work, args.hosts)
            out[gil].append(r)
            steps = [b - a for a, b in zip([r["before"]] + r["after"], r["after"])]
            print("round %d %-6s RSS before %.1f MB, per interpreter %s MB; creation %s ms" % (
                rnd + 1, gil, r["before"] / 1e6, " ".join("%.1f" % (s / 1e6) for s in steps),
                " ".join("%.1f" % (t * 1000) for t in r["log"])), file=sys.stderr)
    return out


# ----------------------------------------------------------------- report

def med(xs):
    return statistics.median(xs)


def report(env, info, n_work, tp, alone, control, mem, args):
    lines = ["## Virtual hosts in parallel: PythonInterpreterGIL own vs shared "
             "(bench/parallel_vhosts.py)", "",
             "Date: %(date)s  " % env, "Machine: %(machine)s  " % env,
             "httpd: %s, worker MPM, one child of %d threads  " % (env["httpd"], THREADS),
             "Python: %s (module built against it; the system Python is %s)  "
             % (info["python"], env["python"]),
             "Method: two virtual hosts, each handler a pure-Python loop of %d iterations "
             "(%.1f ms calibrated); wrk -t1 -c%d per host, both at once, %d s after a 2 s "
             "warm-up; %d interleaved rounds, medians; nothing pinned. Server CPU: utime+stime "
             "of the child from /proc, 100%% = one core. Each measurement after a wait for a "
             "quiet machine, and made again (twice at most, the least disturbed kept) when "
             "other processes used over %.0f%% of a core meanwhile: %d of %d were."
             % (n_work, TARGET_MS, CONNECTIONS, args.seconds, args.rounds, args.max_other,
                sum(1 for g in tp for r in tp[g] if r[6] > 1) +
                sum(1 for c in control if c[3] > 1),
                sum(len(v) for v in tp.values()) + len(control)), "",
             "| figure (median of %d rounds) | shared GIL | own GIL | own / shared |"
             % args.rounds, "| --- | ---: | ---: | ---: |"]

    def row(label, key, fmt, ratio=True):
        s, o = med([key(r) for r in tp["shared"]]), med([key(r) for r in tp["own"]])
        lines.append("| %s | %s | %s | %s |" % (label, fmt % s, fmt % o,
                                               "%.2f" % (o / s) if ratio else ""))

    row("a.test requests/s", lambda r: r[0]["a.test"], "%.1f")
    row("b.test requests/s", lambda r: r[0]["b.test"], "%.1f")
    row("total requests/s", lambda r: sum(r[0].values()), "%.1f")
    row("server CPU (child)", lambda r: r[1], "%.0f%%")
    row("server CPU per request", lambda r: r[3], "%.0f µs")
    row("child threads over 10% of a core", lambda r: r[2], "%d", False)
    row("wrk's CPU (both)", lambda r: r[4], "%.0f%%", False)
    row("other processes' CPU (the machine is shared)", lambda r: max(r[5], 0), "%.0f%%", False)
    lines.append("| the handler's loop alone (thread CPU, one request at a time) "
                 "| %.0f µs | %.0f µs | %.2f |"
                 % (alone["shared"], alone["own"], alone["own"] / alone["shared"]))
    total = lambda r: sum(r[0].values())
    lines += ["", "Total requests/s, own / shared, round by round: %s (other processes' "
              "CPU in those rounds, shared / own: %s)." % (
                  ", ".join("%.2f" % (total(o) / total(s))
                            for s, o in zip(tp["shared"], tp["own"])),
                  ", ".join("%.0f%% / %.0f%%" % (max(s[5], 0), max(o[5], 0))
                            for s, o in zip(tp["shared"], tp["own"])))]
    lines += ["", "The machine's own limit, without httpd: the same loop in plain Python "
              "%s processes, one alone, then two at once (median of the rounds): %.1f and %.1f "
              "loops/s, x%.2f (round by round: %s)." % (
                  info["python"], med([c[0] for c in control]), med([c[1] for c in control]),
                  med([c[1] / c[0] for c in control]),
                  ", ".join("%.2f" % (c[1] / c[0]) for c in control))]

    n = args.hosts
    lines += ["", "Per interpreter: a fresh server per setting with %d virtual hosts, one "
              "first request to each in turn; %d servers per setting, medians." % (n, args.rounds),
              "", "| figure | shared GIL | own GIL |", "| --- | ---: | ---: |"]

    def mrow(label, key, fmt):
        lines.append("| %s | %s | %s |" % (label, fmt(med([key(r) for r in mem["shared"]])),
                                           fmt(med([key(r) for r in mem["own"]]))))

    mb = lambda v: "%.1f MB" % (v / 1e6)
    ms = lambda v: "%.2f ms" % (v * 1000)
    steps = lambda r: [b - a for a, b in zip([r["before"]] + r["after"], r["after"])]
    mrow("child VmRSS before the first request", lambda r: r["before"], mb)
    mrow("VmRSS added by the first interpreter (a.test)", lambda r: steps(r)[0], mb)
    mrow("VmRSS added per interpreter, the other %d (median)" % (n - 1),
         lambda r: med(steps(r)[1:]), mb)
    mrow("VmRSS added by all %d" % n, lambda r: r["after"][-1] - r["before"], mb)
    mrow("of which anonymous memory (RssAnon), per interpreter, all %d (median)" % n,
         lambda r: med(r["anon"]), mb)
    mrow("creation, first interpreter (log: fixups to MP00005)", lambda r: r["log"][0], ms)
    mrow("creation, the other %d (median)" % (n - 1), lambda r: med(r["log"][1:]), ms)
    mrow("first request - second request, first host (client)", lambda r: r["client"][0], ms)
    mrow("first request - second request, the other %d (median)" % (n - 1),
         lambda r: med(r["client"][1:]), ms)
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--python", help="3.12 or 3.13 (default: the first of them found)")
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--hosts", type=int, default=10, help="virtual hosts for the memory figures")
    ap.add_argument("--quiet-wait", type=int, default=30,
                    help="seconds to wait at most, before each measurement, for the "
                    "machine's other load to drop")
    ap.add_argument("--max-other", type=float, default=30,
                    help="a measurement during which other processes used more than this "
                    "%% of a core is made again (twice more at most; the least disturbed kept)")
    args = ap.parse_args()
    builds = pyenv_builds()
    minor = args.python or (sorted(builds) or [None])[0]
    if minor not in builds:
        print("no pyenv build of Python %s with a shared libpython here (found: %s): "
              "PythonInterpreterGIL own needs 3.12+, nothing to measure"
              % (minor or "3.12 or 3.13", ", ".join(sorted(builds)) or "none"))
        return 0
    signal.signal(signal.SIGTERM, on_sigterm)
    # Ctrl-C raises KeyboardInterrupt even if this was started with SIGINT
    # ignored (a background job of a script).
    signal.signal(signal.SIGINT, signal.default_int_handler)
    prefix = readable_copy(builds[minor])
    tree = tempfile.mkdtemp(prefix="mp-bench-build-py%s-" % minor)
    servers = []
    try:
        print("building mod_python against %s ..." % prefix, file=sys.stderr)
        so = build(tree, minor, prefix)
        wait_quiet(args.quiet_wait)
        n_work = calibrate(prefix, minor)
        info = {"python": python_run(prefix, minor, "import sys; print(sys.version.split()[0])")}
        print("work: %d iterations for %.1f ms" % (n_work, TARGET_MS), file=sys.stderr)
        env = environment()
        mem = memory(so, prefix, n_work, args)
        servers = [server(so, prefix, gil, n_work, ["a.test", "b.test"])
                   for gil in ("shared", "own")]
        tp, alone, control = throughput(servers, prefix, minor, n_work, args)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Stop:
        print("terminated", file=sys.stderr)
        return 143
    finally:
        cleanup(servers)
        shutil.rmtree(tree, ignore_errors=True)
    text = report(env, info, n_work, tp, alone, control, mem, args)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
