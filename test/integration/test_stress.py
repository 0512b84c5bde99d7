"""Load while modules change under it, and graceful restarts under load.

The default test run uses a short duration; scripts/reliability.sh runs
the full one (MP_STRESS_SECONDS=30, MP_STRESS_RESTARTS=20).
"""
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
SIZE = 600  # every version of a file has this exact size: in-place rewrites
            # then never expose a truncated file, only old or new content

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


def padded(text):
    assert len(text) < SIZE
    return text + "#" * (SIZE - len(text) - 1) + "\n"


class Rewriter(threading.Thread):
    """Rewrites handler and helper modules every 50 ms: atomic renames and
    in-place writes; sometimes a syntax error, fixed 200 ms later."""

    def __init__(self, h):
        super().__init__(daemon=True)
        self.h = h
        self.version = [1] * VHOSTS
        self.bad = []            # (vhost, start, end) while a syntax error was on disk
        self.stop = threading.Event()
        self.writes = 0

    def put(self, vh, name, text, atomic):
        p = self.h.path("htdocs", "v%d" % vh, name)
        if atomic:
            tmp = p + ".tmp%d" % self.writes
            with open(tmp, "w") as f:
                f.write(padded(text))
            os.rename(tmp, p)
        else:
            with open(p, "r+") as f:
                f.write(padded(text))
        self.writes += 1

    def write_version(self, vh, v, atomic):
        self.put(vh, "helper.py", HELPER.format(v=v), atomic)
        self.put(vh, "handler.py", HANDLER.format(v=v), atomic)

    def run(self):
        rnd = random.Random(42)
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


def make_server(mpm):
    h = Httpd(mpm)
    vhosts = []
    for vh in range(VHOSTS):
        d = h.path("htdocs", "v%d" % vh)
        os.makedirs(d)
        os.chmod(d, 0o755)
        h.write("htdocs/v%d/helper.py" % vh, padded(HELPER.format(v=1)))
        h.write("htdocs/v%d/handler.py" % vh, padded(HANDLER.format(v=1)))
        vhosts.append("""
            <VirtualHost 127.0.0.1:{port}>
                ServerName v{vh}.test
                DocumentRoot {d}
                <Directory {d}>
                    SetHandler mod_python
                    PythonHandler handler
                </Directory>
            </VirtualHost>""".format(port=h.port, vh=vh, d=d))
    h.config("\n".join(vhosts), mpm_settings=MPM)
    return h


@pytest.mark.parametrize("mpm", ["event", "worker"])
def test_load_while_modules_change(mpm):
    h = make_server(mpm)
    try:
        h.start()
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
        # the last word: every vhost serves its last version
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
        log = h.log()
        assert "exit signal" not in log and "Segmentation" not in log
        errors = [r for r in results if r[3] == "error"]
        assert not errors, errors[:5]
        oks = [r for r in results if r[3] == 200]
        assert len(oks) > len(results) * 0.5, "too few successes"
        for vh, t0, t1, status, body in oks:
            v, v_end, a, b, interp = body.decode().split()
            assert v == v_end and a == b, "half-executed module served: %r" % body
            assert interp == "v%d.test" % vh
        slack = 0.1
        for vh, t0, t1, status, body in results:
            if status not in (200, "closed"):
                assert status == 500, (status, body)
                assert any(b[0] == vh and t0 <= b[2] + slack and t1 >= b[1] - slack
                           for b in rw.bad), "500 with no syntax error on disk (vhost %d)" % vh
        print("%d requests, %d writes, %d syntax-error windows, %d 500s" % (
            len(results), rw.writes, len(rw.bad),
            sum(1 for r in results if r[3] == 500)))
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
