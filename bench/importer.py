"""Importer figures (issue 14): what a reload costs, a cold import of 100
modules after a graceful restart, and a child's memory across 1,000
reloads; mod_python 3.5 (Debian's libapache2-mod-python) beside it where
3.5 has the figure.  Figures only, no assertions on timings.

Every server is its own httpd, prefork MPM with one child (so a figure is
one process's), pinned to CPU 0; this script pins itself to CPU 1.  A
change is written in place (open "w", write, close) and its mtime moved a
second on, as test/integration/test_importer.py's edit() does, so that
both the inotify watcher and the stat() fallback see it; every response
is checked to come from the version just written.

1. Reload cost.  handler.py is about 200 lines (constants, a class,
   functions) and imports child.py (3 lines).  Each measured request
   follows an edit of child.py (the parent reloads with its source
   unchanged) or, in the other row, of handler.py itself (a real change
   that must be compiled).  Figure: server CPU per reload = (CPU of n
   requests each after an edit - CPU of n requests with no edit) / n,
   where CPU is the sum of every httpd task's run time from
   /proc/<pid>/task/<tid>/schedstat (nanoseconds, so no clock-tick
   rounding); median of the rounds, with min-max beside it.  The same
   subtraction on client-timed requests (wall) is shown too: on a shared
   machine it is the noisier one (it also counts waiting for the CPU).
   Servers: the default (bytecode cache on) and
   `PythonOption mod_python.importer.bytecode Off`.
2. Cold import.  A handler importing 100 modules of about 200 lines each;
   per round `httpd -k graceful`, then (once the old child is gone and the
   new one is up) one request on a new connection: the client's time to
   that first response, and the 100 imports timed inside the handler
   module.  Servers: mod_python 4 with
   `PythonOption mod_python.importer.bytecode_dir DIR` (written by the
   warm-up round), mod_python 4 with only its in-memory cache (empty in a
   new child), mod_python 3.5 with __pycache__ writable by the server user
   (the .pyc files written by the warm-up round, then loaded), and 3.5 with
   the directory not writable (no .pyc: compiled every time).
3. Memory.  A handler module holding 1 MiB of globals (bytes built at
   import, so every page is touched) and functions (the module dict is in
   reference cycles with them) is edited and requested 1,000 times; the
   child's VmRSS is read every 100 reloads, with the number of old
   versions still alive (a weak reference per version).  Default and
   bytecode Off.  mod_python 3.5 does not reload a handler module (its
   import_module returns sys.modules' entry): checked, not measured.

Options the build does not know are ignored (PythonOption), so the script
runs the same before and after the importer's bytecode cache.

Usage: /usr/bin/python3 bench/importer.py [--what inproc,reload,cold,rss]
       [--rounds N] [--reloads N] [--restarts N]
"""
import argparse
import http.client
import os
import pwd
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "test", "integration"))
from harness import (MODULE, ONE_PREFORK_CHILD, RUN_USER, Httpd, edit_visible,  # noqa: E402
                     wait_for)
from common import MP35_MODULE, environment  # noqa: E402

BYTECODE_OFF = "PythonOption mod_python.importer.bytecode Off\n"
BYTECODE_DIR = "PythonOption mod_python.importer.bytecode_dir {root}/bytecode\n"
APP = "<Directory {app}>\n    SetHandler mod_python\n    PythonHandler handler\n</Directory>\n"

# About 200 lines of ordinary application code; @N@ makes each module's
# names its own, @R@ is the revision an edit changes.
BODY = '''"""Orders for @N@: parsing, pricing and formatting (revision @R@)."""
import datetime
import json
import re

REVISION = @R@
CURRENCY = "EUR"
VAT_RATES = {"standard": 0.20, "reduced": 0.055, "zero": 0.0}
MAX_ITEMS = 250
SKU_RE = re.compile(r"^[A-Z]{3}-\\d{4,6}$")
STATUSES = ("new", "paid", "shipped", "delivered", "cancelled")
TRANSITIONS = {
    "new": ("paid", "cancelled"),
    "paid": ("shipped", "cancelled"),
    "shipped": ("delivered",),
    "delivered": (),
    "cancelled": (),
}


class OrderError(ValueError):
    """A malformed or impossible order for @N@."""


class Line:
    __slots__ = ("sku", "quantity", "unit_price", "rate")

    def __init__(self, sku, quantity, unit_price, rate="standard"):
        if not SKU_RE.match(sku):
            raise OrderError("bad SKU %r" % sku)
        if quantity <= 0:
            raise OrderError("quantity must be positive")
        if rate not in VAT_RATES:
            raise OrderError("unknown VAT rate %r" % rate)
        self.sku = sku
        self.quantity = quantity
        self.unit_price = unit_price
        self.rate = rate

    def net(self):
        return self.quantity * self.unit_price

    def vat(self):
        return round(self.net() * VAT_RATES[self.rate], 2)

    def gross(self):
        return self.net() + self.vat()

    def as_dict(self):
        return {"sku": self.sku, "quantity": self.quantity,
                "unit_price": self.unit_price, "rate": self.rate}


class Order:
    def __init__(self, number, customer, lines=(), status="new", created=None):
        self.number = number
        self.customer = customer
        self.lines = list(lines)
        self.status = status
        self.created = created or datetime.datetime(2024, 1, 1)
        self.history = [(self.created, status)]

    def add(self, line):
        if len(self.lines) >= MAX_ITEMS:
            raise OrderError("too many lines")
        for existing in self.lines:
            if existing.sku == line.sku and existing.rate == line.rate:
                existing.quantity += line.quantity
                return existing
        self.lines.append(line)
        return line

    def remove(self, sku):
        before = len(self.lines)
        self.lines = [ln for ln in self.lines if ln.sku != sku]
        return before - len(self.lines)

    def move(self, status, when=None):
        if status not in TRANSITIONS.get(self.status, ()):
            raise OrderError("%s -> %s not allowed" % (self.status, status))
        self.status = status
        self.history.append((when or self.created, status))

    def totals(self):
        net = sum(ln.net() for ln in self.lines)
        vat = sum(ln.vat() for ln in self.lines)
        return {"net": round(net, 2), "vat": round(vat, 2), "gross": round(net + vat, 2)}

    def as_dict(self):
        d = {"number": self.number, "customer": self.customer,
             "status": self.status, "created": self.created.isoformat(),
             "lines": [ln.as_dict() for ln in self.lines]}
        d.update(self.totals())
        return d


def parse_line(text):
    """'ABC-1234 x3 @12.50 reduced' -> Line."""
    parts = text.split()
    if len(parts) < 3:
        raise OrderError("short line %r" % text)
    sku, qty, price = parts[:3]
    rate = parts[3] if len(parts) > 3 else "standard"
    if not qty.startswith("x") or not price.startswith("@"):
        raise OrderError("bad line %r" % text)
    try:
        return Line(sku, int(qty[1:]), float(price[1:]), rate)
    except ValueError as e:
        raise OrderError(str(e))


def parse_order(text, number=0):
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    if not lines:
        raise OrderError("empty order")
    customer = lines[0]
    order = Order(number, customer)
    for ln in lines[1:]:
        if ln.startswith("#"):
            continue
        order.add(parse_line(ln))
    return order


def money(value, currency=CURRENCY):
    whole, cents = divmod(int(round(value * 100)), 100)
    groups = []
    while whole >= 1000:
        whole, rest = divmod(whole, 1000)
        groups.append("%03d" % rest)
    groups.append(str(whole))
    return "%s.%02d %s" % (",".join(reversed(groups)), cents, currency)


def invoice(order):
    out = ["Invoice %d for %s" % (order.number, order.customer), ""]
    for ln in order.lines:
        out.append("%-12s %4d x %10s = %12s" % (ln.sku, ln.quantity, money(ln.unit_price),
                                               money(ln.net())))
    t = order.totals()
    out.append("")
    for key in ("net", "vat", "gross"):
        out.append("%-10s %28s" % (key.upper(), money(t[key])))
    return "\\n".join(out)


def summarize(orders):
    by_status = dict.fromkeys(STATUSES, 0)
    revenue = 0.0
    for o in orders:
        by_status[o.status] = by_status.get(o.status, 0) + 1
        if o.status in ("paid", "shipped", "delivered"):
            revenue += o.totals()["gross"]
    return {"count": len(orders), "by_status": by_status, "revenue": round(revenue, 2)}


def top_skus(orders, n=5):
    counts = {}
    for o in orders:
        for ln in o.lines:
            counts[ln.sku] = counts.get(ln.sku, 0) + ln.quantity
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return ranked[:n]


def to_json(orders):
    return json.dumps([o.as_dict() for o in orders], sort_keys=True)


def from_json(text):
    orders = []
    for d in json.loads(text):
        o = Order(d["number"], d["customer"], status=d["status"],
                  created=datetime.datetime.fromisoformat(d["created"]))
        for ln in d["lines"]:
            o.add(Line(ln["sku"], ln["quantity"], ln["unit_price"], ln["rate"]))
        orders.append(o)
    return orders


def validate(order):
    problems = []
    if not order.customer:
        problems.append("no customer")
    if not order.lines:
        problems.append("no lines")
    if order.status not in STATUSES:
        problems.append("unknown status %r" % order.status)
    for ln in order.lines:
        if ln.unit_price < 0:
            problems.append("negative price for %s" % ln.sku)
    return problems


def sample(n=3):
    text = "ACME @N@\\nABC-1234 x2 @9.99\\nXYZ-55555 x1 @120.00 reduced\\n"
    return [parse_order(text, i) for i in range(n)]
'''

PARENT = BODY + '''
import child
from mod_python import apache


def handler(req):
    req.content_type = "text/plain"
    req.write("%d %d" % (REVISION, child.VERSION))
    return apache.OK
'''
CHILD = 'VERSION = @R@\nNAME = "child"\nLIMIT = 10\n'

COLD_MODULES = 100
COLD = ("import os, time\n_T0 = time.perf_counter()\n" +
        "".join("import m%03d\n" % i for i in range(COLD_MODULES)) +
        '''IMPORT_MS = (time.perf_counter() - _T0) * 1000
from mod_python import apache
_calls = 0


def handler(req):
    global _calls
    _calls += 1
    req.content_type = "text/plain"
    req.write("%d %.3f %d" % (os.getpid(), IMPORT_MS, _calls))
    return apache.OK
''')

BIG = '''import os, sys, weakref
from mod_python import apache
REVISION = @R@
DATA = bytes(range(256)) * 4096     # 1 MiB, every page written


class Version:
    pass


# One object per loaded version, weakly referenced from a set that
# outlives the versions: how many old versions are still alive.
_ME = Version()
ALIVE = sys.__dict__.setdefault("_mp_bench_versions", weakref.WeakSet())
ALIVE.add(_ME)


def size():
    return len(DATA)


def checksum(n=64):
    return sum(DATA[:n]) + REVISION


def handler(req):
    req.content_type = "text/plain"
    req.write("%d %d %d" % (REVISION, os.getpid(), len(ALIVE) - 1))
    return apache.OK
'''


def source(template, rev, name="app"):
    return template.replace("@N@", name).replace("@R@", str(rev))


def server(name, files, conf, python_module=MODULE):
    h = Httpd("prefork", prefix="mp-bench-imp-%s-" % name)
    h.launcher = ["taskset", "-c", "0"]
    h.name = name
    h.app = h.path("htdocs", "app")
    for path, text in files.items():
        h.write("htdocs/app/" + path, text)
    if python_module != MODULE:
        h.extra_env["PYTHONPATH"] = ""   # 3.5's own library, not ours
    h.config(conf.format(app=h.app, root=h.root), mpm_settings=ONE_PREFORK_CHILD,
             python_module=python_module, loglevel="warn")
    return h


def edit(h, rel, text):
    """Rewrite in place; mtime a second on (seen by stat() too)."""
    edit_visible(os.path.join(h.app, rel), text)


class Client:
    """One keep-alive connection, reopened when the server closed it."""

    def __init__(self, h):
        self.h = h
        self.conn = None

    def get(self, path="/app/x"):
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.h.port, timeout=60)
            try:
                self.conn.request("GET", path)
                r = self.conn.getresponse()
                body = r.read().decode()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
                continue
            if r.status != 200:
                raise RuntimeError("%s: %d %s\n%s" % (self.h.name, r.status, body[:500],
                                                      self.h.log()[-3000:]))
            return body

    def close(self):
        if self.conn:
            self.conn.close()


def cpu_ns(h):
    """Run time of every task of the httpd parent and its children."""
    total = 0
    for pid in [h.pid()] + h.children():
        try:
            tids = os.listdir("/proc/%d/task" % pid)
        except OSError:
            continue
        for tid in tids:
            try:
                with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                    total += int(f.read().split()[0])
            except OSError:
                pass
    return total


def check_body(h, body, want):
    if body != want:
        raise RuntimeError("%s: served %r, expected %r (a missed or partial reload)\n%s"
                           % (h.name, body, want, h.log()[-3000:]))


# ---------------------------------------------------------------- reloads

RELOAD_SERVERS = [("reload-on", "default (cache on)", ""),
                  ("reload-off", "bytecode Off", BYTECODE_OFF)]
RELOAD_CASES = [("child.py", "child.py edited: handler.py reloads, its source unchanged"),
                ("handler.py", "handler.py edited: a real change, compiled")]


def reload_server(name, opts, python_module=MODULE):
    h = server(name, {"handler.py": source(PARENT, 0), "child.py": source(CHILD, 0)},
               opts + APP, python_module)
    h.rev = {"handler.py": 0, "child.py": 0}
    return h


def series(h, client, rel, n):
    """(server CPU ns, client wall ns) of n requests, each after an edit
    of `rel` (None: no edit, the baseline)."""
    c0 = cpu_ns(h)
    wall = 0
    for _ in range(n):
        if rel:
            h.rev[rel] += 1
            edit(h, rel, source(PARENT if rel == "handler.py" else CHILD, h.rev[rel]))
        t = time.perf_counter_ns()
        body = client.get()
        wall += time.perf_counter_ns() - t
        check_body(h, body, "%d %d" % (h.rev["handler.py"], h.rev["child.py"]))
    return cpu_ns(h) - c0, wall


def reloads(args):
    """{(server, case): ([µs CPU per reload], [µs wall per reload])}, and
    {server: [µs CPU per request without a reload]}."""
    s = {name: reload_server(name, opts) for name, _, opts in RELOAD_SERVERS}
    out = {(name, rel): ([], []) for name in s for rel, _ in RELOAD_CASES}
    base = {name: [] for name in s}
    clients = {}
    try:
        for name, h in s.items():
            h.start()
            clients[name] = Client(h)
            series(h, clients[name], "handler.py", 20)   # warm up
            series(h, clients[name], None, 20)
        for rnd in range(args.rounds):
            for name, h in s.items():
                for rel, _ in RELOAD_CASES:
                    c1, w1 = series(h, clients[name], rel, args.reloads)
                    c0, w0 = series(h, clients[name], None, args.reloads)
                    out[(name, rel)][0].append((c1 - c0) / args.reloads / 1000)
                    out[(name, rel)][1].append((w1 - w0) / args.reloads / 1000)
                    base[name].append(c0 / args.reloads / 1000)
                    print("round %d %-10s %-10s %7.0f µs CPU %7.0f µs wall per reload"
                          % (rnd + 1, name, rel, out[(name, rel)][0][-1],
                             out[(name, rel)][1][-1]), file=sys.stderr)
    finally:
        for name, h in s.items():
            if name in clients:
                clients[name].close()
            h.cleanup()
    return out, base


def mp35_reloads():
    """Does mod_python 3.5 serve an edited handler.py?  (It checks the
    mtime at most once a second, then importlib returns the old module.)"""
    h = reload_server("reload-mp35", "", MP35_MODULE)
    try:
        h.start()
        first = h.get("/app/x").body.decode()
        edit(h, "handler.py", source(PARENT, 1))
        time.sleep(1.5)
        after = h.get("/app/x").body.decode()
    finally:
        h.cleanup()
    return first, after


# ---------------------------------------------------------- cold imports

COLD_SERVERS = [
    ("cold-disk", "mod_python 4, bytecode_dir (written by the warm-up)"),
    ("cold-mem", "mod_python 4, in-memory cache only (empty in a new child)"),
    ("cold-35pyc", "mod_python 3.5, __pycache__ writable (.pyc written by the warm-up)"),
    ("cold-35", "mod_python 3.5, directory not writable (no .pyc: compiled)"),
]


def chown_run_user(path):
    user = pwd.getpwnam(RUN_USER)
    os.chown(path, user.pw_uid, user.pw_gid)


def cold_servers():
    files = {"handler.py": COLD}
    files.update({"m%03d.py" % i: source(BODY, 0, "m%03d" % i) for i in range(COLD_MODULES)})
    s = {"cold-disk": server("cold-disk", files, BYTECODE_DIR + APP),
         "cold-mem": server("cold-mem", files, APP),
         "cold-35pyc": server("cold-35pyc", files, APP, MP35_MODULE),
         "cold-35": server("cold-35", files, APP, MP35_MODULE)}
    os.makedirs(s["cold-disk"].path("bytecode"))
    chown_run_user(s["cold-disk"].path("bytecode"))
    chown_run_user(s["cold-35pyc"].app)
    return s


def first_response(h):
    """Graceful restart; once the old child is gone and a new one is up,
    (ms to the first response, ms of the 100 imports inside)."""
    old = set(h.children())
    h.graceful()
    if not wait_for(lambda: h.children() and not set(h.children()) & old, timeout=30):
        raise RuntimeError("%s: no new child after the restart" % h.name)
    t = time.perf_counter()
    r = h.get("/app/x", timeout=120)
    ms = (time.perf_counter() - t) * 1000
    if r.status != 200:
        raise RuntimeError("%s: %d %r\n%s" % (h.name, r.status, r.body[:500], h.log()[-3000:]))
    pid, import_ms, calls = r.body.decode().split()
    if calls != "1":
        raise RuntimeError("%s: not a new child's first request (%s)" % (h.name, r.body))
    return ms, float(import_ms)


def cache_files(h):
    """Bytecode files the warm-up left: bytecode_dir's, or __pycache__'s."""
    n = 0
    for d in (h.path("bytecode"), os.path.join(h.app, "__pycache__")):
        for _, _, names in os.walk(d):
            n += len(names)
    return n


def cold(args):
    """{server: ([ms first response], [ms imports])}, {server: files}."""
    s = cold_servers()
    out = {name: ([], []) for name in s}
    try:
        for h in s.values():
            h.start()
            r = h.get("/app/x", timeout=120)
            if r.status != 200:
                raise RuntimeError("%s: %d %r\n%s" % (h.name, r.status, r.body[:500],
                                                      h.log()[-3000:]))
            first_response(h)   # warm-up: a second child reads what the first wrote
        files = {name: cache_files(h) for name, h in s.items()}
        for rnd in range(args.restarts):
            for name, h in s.items():
                ms, imp = first_response(h)
                out[name][0].append(ms)
                out[name][1].append(imp)
                print("restart %d %-10s first response %7.1f ms, imports %7.1f ms"
                      % (rnd + 1, name, ms, imp), file=sys.stderr)
    finally:
        for h in s.values():
            h.cleanup()
    return out, files


# ---------------------------------------------------------------- memory

RSS_SERVERS = [("rss-on", "default (cache on)", ""), ("rss-off", "bytecode Off", BYTECODE_OFF)]


def vmrss(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS for %d" % pid)


def rss_run(h, n, every=100):
    """[(reloads, child VmRSS, old versions alive)] every `every` reloads."""
    c = Client(h)
    try:
        rev, pid, alive = c.get().split()
        pid = int(pid)
        rows = [(0, vmrss(pid), int(alive))]
        for i in range(1, n + 1):
            edit(h, "handler.py", source(BIG, i))
            body = c.get()
            rev, p, alive = body.split()
            if rev != str(i) or int(p) != pid:
                raise RuntimeError("%s: %r after revision %d in %d" % (h.name, body, i, pid))
            if i % every == 0:
                rows.append((i, vmrss(pid), int(alive)))
    finally:
        c.close()
    return rows


def memory(args):
    out = {}
    for name, _, opts in RSS_SERVERS:
        h = server(name, {"handler.py": source(BIG, 0)}, opts + APP)
        try:
            h.start()
            out[name] = rss_run(h, args.rss_reloads)
        finally:
            h.cleanup()
        print("%s: %s" % (name, out[name]), file=sys.stderr)
    return out


# ---------------------------------------------------------------- report

def med(values, fmt="%.0f"):
    """'median (min-max)'."""
    return (fmt + " (" + fmt + "-" + fmt + ")") % (statistics.median(values), min(values),
                                                  max(values))


def revision():
    """The last commit that changed src/, and whether src/ has changes
    not committed yet: the module these figures are of."""
    import subprocess
    root = os.path.dirname(HERE)
    last = subprocess.run(["git", "-C", root, "log", "-1", "--format=%h", "--", "src"],
                          capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "src"],
                           capture_output=True, text=True).stdout.strip()
    return last + (" plus uncommitted changes" if dirty else "")


def report_reloads(args, out, base, mp35):
    names = dict((n, label) for n, label, _ in RELOAD_SERVERS)
    lines = ["Reload cost: %d rounds of %d reloads and %d requests without one, per server "
             "and row; server CPU from schedstat, baseline subtracted." % (
                 args.rounds, args.reloads, args.reloads), "",
             "| edit before each request | server | CPU per reload, µs: median (min-max) "
             "| wall per reload, µs: median (min-max) |", "| --- | --- | ---: | ---: |"]
    for rel, label in RELOAD_CASES:
        for name, _, _ in RELOAD_SERVERS:
            cpu, wall = out[(name, rel)]
            lines.append("| %s | %s | %s | %s |" % (label, names[name], med(cpu), med(wall)))
    for name, _, _ in RELOAD_SERVERS:
        lines.append("| none (the baseline subtracted above) | %s | %s per request | |"
                     % (names[name], med(base[name])))
    off = {rel: statistics.median(out[("reload-off", rel)][0]) for rel, _ in RELOAD_CASES}
    on = {rel: statistics.median(out[("reload-on", rel)][0]) for rel, _ in RELOAD_CASES}
    lines += ["", "Default / bytecode Off (CPU per reload): child.py edited %.2f, "
              "handler.py edited %.2f." % (on["child.py"] / off["child.py"],
                                          on["handler.py"] / off["handler.py"])]
    if mp35:
        first, after = mp35
        lines.append("mod_python 3.5, same files: served %r, then %r on the request 1.5 s "
                     "after handler.py was edited to revision 1 (%s)." % (
                         first, after, "reloaded" if after.startswith("1 ") else
                         "not reloaded: no reload figure for 3.5"))
    return lines


def report_cold(args, out, files):
    labels = dict(COLD_SERVERS)
    ref = statistics.median(out["cold-35pyc"][0])
    lines = ["Cold import: %d graceful restarts per server (interleaved), one request each "
             "on a new connection once the new child is up; a handler importing %d modules "
             "of %d lines." % (args.restarts, COLD_MODULES, BODY.count("\n")), "",
             "| server | first response, ms: median (min-max) | the %d imports in the "
             "handler module, ms | first response / 3.5 with .pyc | bytecode files after "
             "the warm-up |" % COLD_MODULES, "| --- | ---: | ---: | ---: | ---: |"]
    for name, _ in COLD_SERVERS:
        ms, imp = out[name]
        lines.append("| %s | %s | %s | %.2f | %d |" % (
            labels[name], med(ms, "%.1f"), med(imp, "%.1f"), statistics.median(ms) / ref,
            files[name]))
    return lines


def report_memory(args, out):
    on, off = out["rss-on"], out["rss-off"]
    lines = ["Memory: one child, handler.py (1 MiB of globals, functions) edited and "
             "requested %d times; VmRSS of the child, and old versions still alive "
             "(not freed yet)." % args.rss_reloads, "",
             "| reloads | default: VmRSS | growth | old versions alive "
             "| bytecode Off: VmRSS | growth | old versions alive |",
             "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for (n, r1, a1), (_, r2, a2) in zip(on, off):
        lines.append("| %d | %.1f MB | %+.1f MB | %d | %.1f MB | %+.1f MB | %d |" % (
            n, r1 / 1e6, (r1 - on[0][1]) / 1e6, a1, r2 / 1e6, (r2 - off[0][1]) / 1e6, a2))
    return lines


# The importer alone, without httpd, the request or the collection after
# it: a thread the handler starts (outside the request, where a path is
# one module for the whole request) edits child.py itself, then times
# import_module() of app.py (the 200-line module importing it), minus the
# edits alone.  Thread CPU time: nothing else is counted.
INPROC = """from mod_python import apache
import os, threading, time
def reloads(n, out):
    here = os.path.dirname(__file__)
    app, child = os.path.join(here, "app.py"), os.path.join(here, "child.py")
    def edit(i):
        with open(child, "w") as f:
            f.write("C = %d\\n" % i)
        os.utime(child, (i, i))
    m = apache.import_module(app, autoreload=True)
    t = time.thread_time()
    for i in range(n):
        edit(i + 1000)
    edits = time.thread_time() - t
    t = time.thread_time()
    for i in range(n):
        edit(i + 5000)
        m2 = apache.import_module(app, autoreload=True)
        assert m2 is not m and m2.child.C == i + 5000, "no reload"
        m = m2
    out.append((time.thread_time() - t - edits) / n * 1e6)
def handler(req):
    out = []
    t = threading.Thread(target=reloads, args=(int(req.args or 200), out))
    t.start()
    t.join()
    req.write("%.1f" % out[0])
    return apache.OK
"""


def inproc(args):
    """{label: [µs per import_module() that reloads app.py]}."""
    out = {}
    for name, label, opts in RELOAD_SERVERS:
        h = server("inproc-" + name, {"handler.py": INPROC, "child.py": "C = 0\n",
                                      "app.py": "import child\n" + source(BODY, 0)},
                   "PythonAutoReload On\nPythonOption mod_python.importer.notify Off\n" + opts + APP)
        chown_run_user(h.app)
        for f in os.listdir(h.app):
            chown_run_user(os.path.join(h.app, f))
        try:
            h.start()
            out[label] = [float(h.get("/app/x?200").text) for _ in range(args.rounds)]
        finally:
            h.cleanup()
    return out


def report_inproc(args, out):
    lines = ["Reload cost inside one request (the importer alone): import_module() of the "
             "200-line app.py right after its child changed, %d rounds of 200, the edits "
             "subtracted; stat() checks (notify Off), so no event wait." % args.rounds, "",
             "| server | µs per reload: median (min-max) |", "| --- | ---: |"]
    for label, v in out.items():
        lines.append("| %s | %s |" % (label, med(v)))
    return lines


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--what", default="inproc,reload,cold,rss")
    ap.add_argument("--rounds", type=int, default=5, help="reload rounds")
    ap.add_argument("--reloads", type=int, default=100, help="reloads per round")
    ap.add_argument("--restarts", type=int, default=7, help="graceful restarts per server")
    ap.add_argument("--rss-reloads", type=int, default=1000)
    args = ap.parse_args()
    what = args.what.split(",")
    os.sched_setaffinity(0, {1})
    env = environment()
    lines = ["## Importer: reloads, cold imports, memory (bench/importer.py)", "",
             "%s; %s; httpd %s, prefork MPM, one child; Python %s; src/ as of commit %s." % (
                 env["date"], env["machine"], env["httpd"], env["python"], revision()), ""]
    if "inproc" in what:
        lines += report_inproc(args, inproc(args)) + [""]
    if "reload" in what:
        out, base = reloads(args)
        lines += report_reloads(args, out, base, mp35_reloads()) + [""]
    if "cold" in what:
        lines += report_cold(args, *cold(args)) + [""]
    if "rss" in what:
        lines += report_memory(args, memory(args)) + [""]
    print("\n".join(lines))


if __name__ == "__main__":
    main()
