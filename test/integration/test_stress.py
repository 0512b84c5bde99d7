"""Load while modules change under it, and graceful restarts under load.

The measure of issue 14: 8 virtual hosts, 64 connections, modules
rewritten every 50 ms, half of the writes in place (truncated, then
written in 3 or 4 pieces 5-20 ms apart: a partial file is on disk while
the writer has it open), sometimes a syntax error for 200 ms.  Goal: 0
timeouts, every 200 a complete version, every vhost on its last version
afterwards; 500s only while a syntax error is on disk, and none at all
with `PythonOption mod_python.importer.on_reload_error keep`.

The default test run uses a short duration; scripts/reliability.sh runs
the full one (MP_STRESS_SECONDS=30, MP_STRESS_RESTARTS=20).
"""
import collections
import http.client
import os
import random
import re
import threading
import time

import pytest

from harness import Httpd, threaded, wait_for

SECONDS = float(os.environ.get("MP_STRESS_SECONDS", "5"))
RESTARTS = int(os.environ.get("MP_STRESS_RESTARTS", "4"))
VHOSTS = 8
CLIENTS = 64

HANDLER = """import helper
from mod_python import apache
VERSION = {v}
def handler(req):
    req.content_type = "text/plain"
    req.write("%d %d %d %d %s" % (VERSION, VERSION_END, helper.A, helper.B, req.interpreter))
    return apache.OK
VERSION_END = {v}
"""
HELPER = "A = {v}\n" + "".join("def f%d(x):\n    return x + %d\n" % (i, i) for i in range(8)) + "B = {v}\n"
BROKEN = "A = {v}\ndef broken(:\n"

MPM = threaded(2, 40)
# Both children from the start, each loading every vhost's modules at
# child start (PythonImport, logged): no first import can fall on a
# partial or broken file, where no last good version exists to serve.
MPM_PRELOADED = threaded(2, 40, start=2)
PRELOAD = "PythonOption mod_python.importer.log On\n" + "".join(
    "PythonImport {htdocs}/v%d/handler.py v%d.test\n" % (vh, vh) for vh in range(VHOSTS))
KEEP = "PythonOption mod_python.importer.on_reload_error keep\n"


class Rewriter(threading.Thread):
    """Rewrites handler and helper modules every 50 ms: atomic renames and
    in-place writes in pieces; sometimes a syntax error, fixed 200 ms later."""

    def __init__(self, h):
        super().__init__(daemon=True)
        self.h = h
        self.rnd = random.Random(42)
        self.version = [1] * VHOSTS
        self.bad = []            # (vhost, start, end) while a syntax error was on disk
        self.stop = threading.Event()
        self.writes = collections.Counter()

    def put(self, vh, name, text, atomic):
        p = self.h.path("htdocs", "v%d" % vh, name)
        if atomic:
            tmp = p + ".tmp%d" % sum(self.writes.values())
            with open(tmp, "w") as f:
                f.write(text)
            os.rename(tmp, p)
        else:
            self.write_in_pieces(p, text)
        self.writes["atomic" if atomic else "in place"] += 1

    def write_in_pieces(self, path, text):
        """Truncate, then write `text` in 3 or 4 flushed pieces 5-20 ms
        apart, as a slow editor or a copy over the old file would."""
        cuts = sorted(self.rnd.sample(range(1, len(text)), self.rnd.choice((2, 3))))
        with open(path, "w") as f:
            for a, b in zip([0] + cuts, cuts + [len(text)]):
                f.write(text[a:b])
                f.flush()
                if b < len(text):
                    time.sleep(self.rnd.uniform(0.005, 0.02))

    def write_version(self, vh, v, atomic):
        self.put(vh, "helper.py", HELPER.format(v=v), atomic)
        self.put(vh, "handler.py", HANDLER.format(v=v), atomic)

    def run(self):
        rnd = self.rnd
        while not self.stop.is_set():
            vh = rnd.randrange(VHOSTS)
            self.version[vh] += 1
            v = self.version[vh]
            if rnd.random() < 0.1:
                start = time.time()
                self.put(vh, "helper.py", BROKEN.format(v=v), atomic=False)
                time.sleep(0.2)
                self.write_version(vh, v, atomic=rnd.random() < 0.5)
                self.bad.append((vh, start, time.time()))
            else:
                self.write_version(vh, v, atomic=rnd.random() < 0.5)
            time.sleep(0.05)


def client(h, until, results, vhosts, done=None):
    """Keep-alive requests until `until` (a time) or `done` (an Event)."""
    conn = None
    i = 0
    while time.time() < until and not (done and done.is_set()):
        vh = vhosts[i % len(vhosts)]
        i += 1
        t0 = time.time()
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", h.port, timeout=10)
            conn.request("GET", "/x", headers={"Host": "v%d.test" % vh})
            r = conn.getresponse()
            body = r.read()
            results.append((vh, t0, time.time(), r.status, body))
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as e:
            conn = None  # a keep-alive connection the server closed: retry
            results.append((vh, t0, time.time(), "closed", repr(e)))
        except Exception as e:
            conn = None
            results.append((vh, t0, time.time(), "error", repr(e)))
    if conn:
        conn.close()


def make_server(mpm, extra="", mpm_settings=MPM):
    h = Httpd(mpm)
    vhosts = []
    for vh in range(VHOSTS):
        d = h.path("htdocs", "v%d" % vh)
        os.makedirs(d)
        os.chmod(d, 0o755)
        h.write("htdocs/v%d/helper.py" % vh, HELPER.format(v=1))
        h.write("htdocs/v%d/handler.py" % vh, HANDLER.format(v=1))
        vhosts.append("""
            <VirtualHost 127.0.0.1:{port}>
                ServerName v{vh}.test
                DocumentRoot {d}
                <Directory {d}>
                    SetHandler mod_python
                    PythonHandler handler
                </Directory>
            </VirtualHost>""".format(port=h.port, vh=vh, d=d))
    h.config(extra.format(htdocs=h.htdocs) + "\n".join(vhosts), mpm_settings=mpm_settings)
    return h


def preloaded(h):
    """Each child imported every vhost's handler and helper at its start."""
    loads = set(re.findall(r"pid=(\d+), interpreter='v\d\.test'\): Importing module '([^']+)'",
                           h.log()))
    return len(loads) == 2 * VHOSTS * 2


def run_load(h):
    """Clients on every vhost while the Rewriter works; then every vhost
    gets a last version, which it must serve.  (results, rewriter)."""
    h.start()
    assert wait_for(lambda: preloaded(h), timeout=20), h.log()[-3000:]
    rw = Rewriter(h)
    results = []
    until = time.time() + SECONDS
    threads = [threading.Thread(target=client, args=(h, until, results, list(range(VHOSTS))))
               for _ in range(CLIENTS)]
    rw.start()
    [t.start() for t in threads]
    [t.join(SECONDS + 30) for t in threads]
    rw.stop.set()
    rw.join()
    assert not any(t.is_alive() for t in threads), "hung requests"
    final = []
    for vh in range(VHOSTS):
        v = rw.version[vh] + 1
        rw.write_version(vh, v, atomic=True)
        final.append(v)
    for vh in range(VHOSTS):
        for _ in range(3):
            r = h.get("/x", host="v%d.test" % vh)
            assert r.status == 200, (vh, r.status, h.log()[-3000:])
            nums = r.text.split()
            assert nums[:4] == [str(final[vh])] * 4 and nums[4] == "v%d.test" % vh, r.text
    return results, rw


def partial(results):
    """200s that did not come from one whole version."""
    out = []
    for vh, t0, t1, status, body in results:
        if status == 200:
            f = body.decode().split()
            if len(f) != 5 or f[0] != f[1] or f[2] != f[3] or f[4] != "v%d.test" % vh:
                out.append(body)
    return out


def summary(h, results, rw):
    """One line of counts, and the errors the log names most."""
    statuses = collections.Counter(r[3] for r in results)
    kinds = collections.Counter(re.findall(r"\b(\w+(?:Error|Exception)): ", h.log()))
    return ("%d requests %s, %d partial versions served; writes %s, %d syntax-error windows; "
            "errors logged: %s" % (len(results), dict(statuses), len(partial(results)),
                                   dict(rw.writes), len(rw.bad), kinds.most_common(4)))


def check_common(h, results, rw, info):
    log = h.log()
    assert "exit signal" not in log and "Segmentation" not in log, info
    errors = [r for r in results if r[3] == "error"]
    assert not errors, "%d timeouts or errors, e.g. %s; %s" % (len(errors), errors[:3], info)
    oks = [r for r in results if r[3] == 200]
    assert len(oks) > len(results) * 0.5, "too few successes; " + info
    bad = partial(results)
    assert not bad, "half-executed module served, e.g. %r; %s" % (bad[:3], info)


@pytest.mark.parametrize("mpm", ["event", "worker"])
def test_load_while_modules_change(mpm):
    """500s only while a syntax error is on disk (the error reaches the
    client: no on_reload_error setting)."""
    h = make_server(mpm, PRELOAD, MPM_PRELOADED)
    try:
        results, rw = run_load(h)
        info = summary(h, results, rw)
        print(info)
        slack = 0.1
        outside = []
        for vh, t0, t1, status, body in results:
            if status not in (200, "closed"):
                assert status == 500, (status, body, info)
                if not any(b[0] == vh and t0 <= b[2] + slack and t1 >= b[1] - slack
                           for b in rw.bad):
                    outside.append(vh)
        check_common(h, results, rw, info)
        assert not outside, "%d 500s with no syntax error on disk (vhosts %s); %s" % (
            len(outside), sorted(set(outside)), info)
    finally:
        h.cleanup()


@pytest.mark.parametrize("mpm", ["event", "worker"])
def test_load_while_modules_change_keep_last_good(mpm):
    """on_reload_error keep: a failed reload serves the last good version,
    so not one response is other than 200, syntax-error windows included."""
    h = make_server(mpm, KEEP + PRELOAD, MPM_PRELOADED)
    try:
        results, rw = run_load(h)
        info = summary(h, results, rw)
        print(info)
        check_common(h, results, rw, info)
        non2xx = [r for r in results if r[3] not in (200, "closed")]
        assert not non2xx, "%d non-2xx responses, e.g. (vhost, status) %s; %s" % (
            len(non2xx), [(r[0], r[3]) for r in non2xx[:5]], info)
    finally:
        h.cleanup()


@pytest.mark.parametrize("mpm", ["event", "worker"])
def test_graceful_restarts_under_load(mpm):
    h = make_server(mpm)
    for vh in range(VHOSTS):
        h.write("htdocs/v%d/handler.py" % vh, """
            import itertools, os
            from mod_python import apache
            _n = itertools.count()
            def handler(req):
                tag = "%d-%d-%d" % (os.getpid(), id(req), next(_n))
                req.log_error("hit " + tag, apache.APLOG_NOTICE)
                req.write(tag)
                return apache.OK
        """)
    try:
        h.start()
        parent = h.pid()
        results = []
        done = threading.Event()
        threads = [threading.Thread(target=client,
                                    args=(h, time.time() + 600, results, [i % VHOSTS], done))
                   for i in range(16)]
        [t.start() for t in threads]
        seen = set(h.children())
        for _ in range(RESTARTS):
            time.sleep(0.2)
            h.graceful()
            seen.update(h.children())
        time.sleep(0.3)
        done.set()
        [t.join(30) for t in threads]
        assert not any(t.is_alive() for t in threads), "hung requests"
        h.stop()

        def alive(p):
            try:
                with open("/proc/%d/stat" % p) as f:
                    return f.read().rsplit(")", 1)[1].split()[0] != "Z"
            except OSError:
                return False
        assert wait_for(lambda: not any(alive(p) for p in seen | {parent}), timeout=20), \
            "processes left after stop"
        errors = [r for r in results if r[3] == "error"]
        assert not errors, errors[:5]
        log = h.log()
        assert "exit signal" not in log and "Segmentation" not in log
        assert log.count("resuming normal operations") == RESTARTS + 1
        tags = re.findall(r"hit (\d+-\d+-\d+)", log)
        served = [r[4].decode() for r in results if r[3] == 200]
        assert served, "no request was served"
        missing = set(served) - set(tags)
        assert not missing, "log lines lost: %d of %d" % (len(missing), len(served))
    finally:
        h.cleanup()
