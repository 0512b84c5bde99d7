"""Start-up, threads, graceful restarts and stop, for each MPM.  The
handlers and their configurations are in apps/lifecycle*/."""
import json
import os
import threading
import time

import pytest

from conftest import MPMS
from harness import one_child, read_file

def serve(h):
    h.config(h.install_app("lifecycle"))


def fetch_many(h, n, path="/x"):
    out, errors = [], []

    def one():
        try:
            out.append(h.get(path))
        except Exception as e:
            errors.append(e)
    ts = [threading.Thread(target=one) for _ in range(n)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    assert not errors, errors
    return out


@pytest.mark.parametrize("mpm", MPMS)
def test_threads_each_have_their_own_state(httpd_factory, mpm):
    h = httpd_factory(mpm)
    serve(h)
    h.start()
    rs = fetch_many(h, 40, "/x?sleep0.05")
    assert all(r.status == 200 for r in rs), [r.status for r in rs]
    idents = {tuple(r.text.split()[:2]) for r in rs}
    if mpm != "prefork":
        assert len(idents) > 1, "requests were not served by several threads"
    assert "exit signal" not in h.log()


@pytest.mark.parametrize("mpm", [m for m in MPMS if m != "prefork"])
def test_gil_released_between_requests(httpd_factory, mpm):
    """A handler blocked in Python (sleep releases the GIL) does not hold
    up another thread's request."""
    h = httpd_factory(mpm)
    serve(h)
    h.start()
    h.get("/x")
    slow = threading.Thread(target=h.get, args=("/x?sleep2",))
    slow.start()
    time.sleep(0.3)
    t0 = time.time()
    assert h.get("/x").status == 200
    took = time.time() - t0
    slow.join()
    assert took < 1.0, took


@pytest.mark.parametrize("mpm", MPMS)
def test_graceful_restarts_and_stop(httpd_factory, mpm):
    h = httpd_factory(mpm)
    serve(h)
    h.start()
    parent = h.pid()
    for i in range(5):
        assert h.get("/x").status == 200
        h.graceful()
        assert h.pid() == parent
        rs = fetch_many(h, 8)
        assert all(r.status == 200 for r in rs), h.log()
    children = h.children()
    h.stop()
    time.sleep(0.2)
    for pid in [parent] + children:
        assert not os.path.exists("/proc/%d" % pid) or \
            open("/proc/%d/stat" % pid).read().split()[2] == "Z", "process %d left" % pid
    log = h.log()
    assert "exit signal" not in log and "Segmentation" not in log, log
    assert log.count("resuming normal operations") == 6
    assert "caught SIGTERM, shutting down" in log


def test_foreign_python_on_path_does_not_break_startup(httpd_factory):
    """httpd's PATH may start with another python3 (a pyenv one, say): the
    embedded Python keeps the home it was built with."""
    h = httpd_factory("event")
    fake = h.path("fakebin")
    os.makedirs(fake)
    with open(os.path.join(fake, "python3"), "w") as f:
        f.write("#!/bin/sh\nexit 1\n")
    os.chmod(os.path.join(fake, "python3"), 0o755)
    os.symlink("python3", os.path.join(fake, "python"))
    h.extra_env["PATH"] = fake + ":/usr/sbin:/usr/bin:/sbin:/bin"
    h.extra_env["PYTHONHOME"] = ""
    h.config(h.install_app("lifecycle"), python_home=False)   # not even MP_PYTHON_HOME's
    h.start()
    assert h.get("/x").status == 200, h.log()


def test_python_home_directive(httpd_factory):
    h = httpd_factory("event")
    serve(h)
    with open(h.conf) as f:
        conf = f.read()
    with open(h.conf, "w") as f:
        f.write(conf + "\nPythonHome /nonexistent/python/home\n")
    with pytest.raises(RuntimeError):
        h.start()
    assert "cannot start Python (home '/nonexistent/python/home')" in h.log()


@pytest.mark.parametrize("mpm", MPMS)
def test_request_objects_reused_only_when_free(httpd_factory, mpm):
    """Ended requests' objects serve later requests (mod_python keeps a few
    per interpreter): nothing of one request shows in the next, and an
    object a handler kept is never handed to another request."""
    h = httpd_factory(mpm)
    h.config(h.install_app("lifecycle_reuse"), mpm_settings=one_child(mpm))
    h.start()
    assert h.get("/x?keep").status == 200
    rs = [h.get("/x?n%d" % i) for i in range(30)] + fetch_many(h, 16, "/x?many")
    assert all(r.status == 200 for r in rs), rs
    outs = [json.loads(r.body) for r in rs]
    assert all(o["leftover"] is None and o["phase"] == "PythonHandler" for o in outs), outs
    assert all(o["kept"] == "over" and o["same"] is False for o in outs), outs
    # A reused object starts a new request: the next one sees an edit.
    h.write("htdocs/reuse.py",
            read_file(h.path("htdocs/reuse.py")).replace('"version": 1', '"version": 2'))
    assert json.loads(h.get("/x?after").body)["version"] == 2
