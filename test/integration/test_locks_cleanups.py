"""mod_python 3.5's process-wide services, as 3.5 applications use them,
against a real httpd (prefork, worker, event):
  * the global locks, _apache._global_lock / _global_trylock /
    _global_unlock(server, key[, index]) (Session's and psp's), with
    PythonOption mod_python.mutex_locks / mod_python.mutex_directory and
    httpd's `Mutex ... mod_python`;
  * child-exit cleanups: server.register_cleanup(req, f, data),
    apache.register_cleanup(f, data), _apache.register_cleanup(interp,
    server, f, data);
  * mod_python.version, the build's facts."""
import json
import os
import re
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from harness import BUILD_ROOT, HTTPD, MODULES_DIR, ROOT, Httpd, one_child, read_file, wait_for

MPMS = ["prefork", "worker", "event"]

# worker/event with two processes of 8 threads: locks between threads and
# between processes.  prefork: the harness's (2 to 8 processes).
TWO_THREADED = """
    StartServers 2
    ServerLimit 2
    ThreadsPerChild 8
    MaxRequestWorkers 16
    MinSpareThreads 1
    MaxSpareThreads 16
"""


def settings(mpm):
    return None if mpm == "prefork" else TWO_THREADED


def js(r):
    assert r.status == 200, (r.status, r.body[:3000])
    return json.loads(r.body)


def locks_server(mpm, extra="", mpm_settings=None, loglevel="notice python:info"):
    h = Httpd(mpm)
    h.config(h.install_app("locks", extra=extra), loglevel=loglevel,
             mpm_settings=mpm_settings or settings(mpm))
    return h


@pytest.fixture(scope="module", params=MPMS)
def srv(request):
    h = locks_server(request.param)
    try:
        h.start()
        yield h
    finally:
        h.cleanup()


@pytest.fixture(scope="module", params=["prefork", "event"])
def single(request):
    """One child process: what a request leaves behind is that process's."""
    h = locks_server(request.param, mpm_settings=one_child(request.param))
    try:
        h.start()
        yield h
    finally:
        h.cleanup()


def counter_file(h, name):
    """A counter in logs/ (the server's user writes there)."""
    p = h.path("logs", name)
    with open(p, "w") as f:
        f.write("0")
    os.chmod(p, 0o666)
    return p


def hammer(h, query, clients=8, each=4):
    """clients at once, each making `each` requests: their answers."""
    def one(_):
        return [js(h.get("/app/x?" + query)) for _ in range(each)]
    with ThreadPoolExecutor(clients) as ex:
        return [w for ws in ex.map(one, range(clients)) for w in ws]


# ------------------------------------------------------------------ locks


def test_no_update_is_lost_under_the_lock(srv):
    path = counter_file(srv, "counter")
    t = time.time()
    who = hammer(srv, "do=counter&key=counter&sleep=0.02&file=" + path)
    took = time.time() - t
    assert read_file(path) == str(len(who)), (read_file(path), len(who))
    # they took turns: every sleep came after the one before
    assert took >= len(who) * 0.02, took
    pids = {w["pid"] for w in who}
    threads = {(w["pid"], w["thread"]) for w in who}
    if srv.mpm == "prefork":
        assert len(pids) > 1, "one process served everything: nothing shared"
    else:
        assert len(threads) > 1, "one thread served everything: nothing shared"


def test_dbm_lock_index_0_as_psp_uses_it(srv):
    """psp and DbmSession lock their dbm file with (server, None, 0)."""
    path = counter_file(srv, "dbm")
    who = hammer(srv, "do=counter&index=0&sleep=0.01&file=" + path, clients=6, each=3)
    assert read_file(path) == str(len(who))


def test_without_the_lock_updates_are_lost(srv):
    """The same load without the lock loses updates: the test above can
    fail."""
    path = counter_file(srv, "nolock")
    who = hammer(srv, "do=counter&nolock=1&sleep=0.02&file=" + path)
    assert int(read_file(path)) < len(who)


def hold(h, mark, query, sleep):
    """Start a request holding a lock for `sleep` s; returns its future
    once the lock is held."""
    ex = ThreadPoolExecutor(1)
    fut = ex.submit(h.get, "/app/x?do=hold&sleep=%s&mark=%s&%s" % (sleep, mark, query))
    ex.shutdown(wait=False)
    assert wait_for(lambda: os.path.exists(mark), timeout=10), h.log()[-3000:]
    return fut


def test_trylock_is_false_while_another_request_holds_the_lock(srv):
    mark = srv.path("logs", "held-by-key")
    fut = hold(srv, mark, "key=session-1", 1.5)
    tries = [js(srv.get("/app/x?do=try&key=session-1")) for _ in range(4)]
    # the index 3.5's formula gives: the same lock
    hashed = js(srv.get("/app/x?do=try_hashed&key=session-1&n=8"))
    holder = js(fut.result())
    assert [t["got"] for t in tries] == [False] * 4, tries
    assert hashed["got"] is False, hashed
    if srv.mpm == "prefork":  # the holder's process serves nothing else
        assert all(t["pid"] != holder["pid"] for t in tries)
    assert js(srv.get("/app/x?do=try&key=session-1"))["got"] is True


def test_locks_by_index_are_distinct(srv):
    mark = srv.path("logs", "held-by-index")
    fut = hold(srv, mark, "index=3", 1.5)
    held = js(srv.get("/app/x?do=try&index=3"))["got"]
    others = [js(srv.get("/app/x?do=try&index=%d" % i))["got"] for i in (0, 1, 2, 4, 7)]
    fut.result()
    assert held is False and others == [True] * 5, (held, others)


def test_python_threads_of_one_request_take_turns(srv):
    d = js(srv.get("/app/x?do=threads&n=6"))
    assert d["value"] == d["expected"], d


def test_another_thread_may_release_the_lock(srv):
    """Session unlocks in a request cleanup, which httpd may run in another
    thread than the handler's: the lock is the process's."""
    for _ in range(3):
        assert js(srv.get("/app/x?do=release_in_thread&key=x")) == {"errors": [], "again": True}


def test_lock_released_in_a_request_cleanup(srv):
    for i in range(6):
        js(srv.get("/app/x?do=release_in_cleanup&key=c"))
        d = js(srv.get("/app/x?do=wait&key=c", timeout=10))
        assert d["waited"] < 5, d


def test_malformed_calls_raise(srv):
    d = js(srv.get("/app/x?do=errors&n=8"))
    assert d["index_high"][0] == "ValueError" and "index 8 is out of range" in d["index_high"][1]
    assert "there are 8 locks (mod_python.mutex_locks)" in d["index_high"][1]
    assert d["index_low"][0] == "ValueError" and "index -2" in d["index_low"][1]
    assert d["not_server"] == ["TypeError",
                               "_global_lock: the first argument must be a server object"]
    assert d["unhashable"][0] == "TypeError", d
    assert d["not_held"] == ["ValueError", "_global_unlock: lock 1 is not held in this process"]
    assert d["no_key"][0] == "TypeError", d
    assert d["top"] is True


def test_startup_logs_the_locks(srv):
    line = [l for l in srv.log().splitlines() if "MP00050" in l]
    assert len(line) == 1, srv.log()[-3000:]
    # the harness's `Mutex file:ROOT/run default`
    assert "8 locks for _global_lock, mechanism fcntl, first file %s/run/mod_python-0." \
        % srv.root in line[0], line


def test_a_lock_outlives_its_request_until_released(single):
    """Not given back automatically, as in 3.5: it stays with the process
    (any thread of it may release it) until released, or the process ends."""
    js(single.get("/app/x?do=keep&index=5"))
    assert js(single.get("/app/x?do=try&index=5"))["got"] is False
    js(single.get("/app/x?do=release&index=5"))
    assert js(single.get("/app/x?do=try&index=5"))["got"] is True


def test_waiting_for_a_lock_leaves_python_to_other_threads(single):
    if single.mpm == "prefork":
        pytest.skip("one prefork child serves one request at a time")
    mark = single.path("logs", "held-gil")
    fut = hold(single, mark, "key=g", 2.0)
    ex = ThreadPoolExecutor(1)
    waiter = ex.submit(single.get, "/app/x?do=wait&key=g")
    time.sleep(0.3)  # the waiter is waiting
    times = []
    for _ in range(5):
        t = time.time()
        js(single.get("/app/x?do=python"))
        times.append(time.time() - t)
    w, holder = js(waiter.result()), js(fut.result())
    ex.shutdown()
    assert w["pid"] == holder["pid"] and w["thread"] != holder["thread"]
    assert w["waited"] > 1.0, w
    assert max(times) < 0.5, times


# ------------------------------------------------------------ configuration

BAD_OPTIONS = [
    ("PythonOption mod_python.mutex_locks abc", "'abc' is not a number from 2 to 256"),
    ("PythonOption mod_python.mutex_locks 1", "'1' is not a number from 2 to 256"),
    ("PythonOption mod_python.mutex_locks 0", "'0' is not a number"),
    ("PythonOption mod_python.mutex_locks -4", "'-4' is not a number"),
    ("PythonOption mod_python.mutex_locks 257", "'257' is not a number from 2 to 256"),
    ("PythonOption mod_python.mutex_locks 8x", "'8x' is not a number"),
    ("PythonOption mod_python.mutex_directory /nonexistent/dir",
     "'/nonexistent/dir' is not a directory"),
]


@pytest.mark.parametrize("line,message", BAD_OPTIONS)
def test_bad_lock_option_fails_configtest(httpd_factory, line, message):
    h = httpd_factory("event")
    h.config("# filler\n" + line + "\n")
    ok, out = h.configtest()
    assert not ok, out
    lineno = open(h.conf).read().splitlines().index(line) + 1
    assert "line %d" % lineno in out, out
    assert "PythonOption " + line.split()[1] + ": " + message in out, out


def test_bad_lock_option_in_a_section_fails_too(httpd_factory):
    h = httpd_factory("event")
    h.config("<Directory /tmp>\nPythonOption mod_python.mutex_locks many\n</Directory>\n")
    ok, out = h.configtest()
    assert not ok and "'many' is not a number" in out, out


def test_lock_option_outside_the_main_server_is_ignored_with_a_warning(httpd_factory):
    h = httpd_factory("event")
    h.config("<VirtualHost 127.0.0.1:%d>\nServerName other\n"
             "PythonOption mod_python.mutex_locks 16\n</VirtualHost>\n" % h.port)
    ok, out = h.configtest()
    assert ok, out
    assert re.search(r"MP00053: .*PythonOption mod_python.mutex_locks on line \d+ "
                     r"of .* has no effect", out), out


def test_mutex_directive_knows_the_mod_python_type(httpd_factory):
    h = httpd_factory("event")
    h.config("Mutex fcntl mod_python\n")
    ok, out = h.configtest()
    assert ok, out
    h.config("Mutex bogus mod_python\n")
    ok, out = h.configtest()
    assert not ok and "Invalid Mutex argument bogus" in out, out


def test_pthread_mutex_is_refused_at_start(httpd_factory):
    """A process-shared pthread mutex belongs to the thread that took it:
    it could not be released from a request cleanup in another thread."""
    h = httpd_factory("event")
    h.config(h.install_app("locks", extra="Mutex pthread mod_python"))
    with pytest.raises(RuntimeError):
        h.start()
    log = h.log()
    assert re.search(r"MP00057: mod_python: the Mutex mechanism 'pthread' cannot "
                     r"serve _global_lock.*'Mutex fcntl mod_python'", log), log[-3000:]


MECHANISMS = [
    ("Mutex sysvsem mod_python\nPythonOption mod_python.mutex_locks 3", 3, "sysvsem"),
    ("Mutex flock:{root}/run mod_python", 8, "flock, first file {root}/run/mod_python-0."),
    ("PythonOption mod_python.mutex_directory {root}/lockdir\n"
     "PythonOption mod_python.mutex_locks 16", 16,
     "fcntl, first file {root}/lockdir/mod_python-0."),
]


@pytest.mark.parametrize("mpm", ["prefork", "event"])
@pytest.mark.parametrize("extra,n,logged", MECHANISMS)
def test_mechanisms_and_lock_counts(mpm, extra, n, logged):
    h = Httpd(mpm)
    try:
        os.makedirs(h.path("lockdir"))
        h.config(h.install_app("locks", extra=extra.format(root=h.root)),
                 loglevel="notice python:info", mpm_settings=settings(mpm))
        h.start()
        assert "MP00050: mod_python: %d locks for _global_lock, mechanism %s" % (
            n, logged.format(root=h.root)) in h.log(), h.log()[-3000:]
        path = counter_file(h, "counter")
        who = hammer(h, "do=counter&key=k&sleep=0.01&file=" + path, clients=6, each=3)
        assert read_file(path) == str(len(who))
        d = js(h.get("/app/x?do=errors&n=%d" % n))
        assert "index %d is out of range" % n in d["index_high"][1] and d["top"] is True
    finally:
        h.cleanup()


def test_a_restart_keeps_the_locks(httpd_factory):
    h = httpd_factory("event")
    h.config(h.install_app("locks", extra="PythonOption mod_python.mutex_locks 8"),
             mpm_settings=TWO_THREADED)
    h.start()
    js(h.get("/app/x?do=keep&index=7"))
    h.config(h.install_app("locks", extra="PythonOption mod_python.mutex_locks 16"),
             mpm_settings=TWO_THREADED)
    h.graceful()
    assert "MP00054: mod_python: a restart keeps the 8 locks of _global_lock" in h.log()
    d = js(h.get("/app/x?do=errors&n=8"))
    assert "index 8 is out of range: there are 8 locks" in d["index_high"][1], d
    # the old child ends, and the kernel gives its lock back
    assert wait_for(lambda: js(h.get("/app/x?do=try&index=7"))["got"], timeout=20)
    path = counter_file(h, "counter")
    who = hammer(h, "do=counter&key=k&sleep=0.01&file=" + path, clients=6, each=3)
    assert read_file(path) == str(len(who))


# ------------------------------------------------------------ child exit

EXIT_LINE = re.compile(r"^(\w+) (\d+) (\S+) (.*)$")


def exit_server(mpm, mpm_settings=None):
    h = Httpd(mpm)
    h.config(h.install_app("exit_cleanups"), mpm_settings=mpm_settings)
    h.start()
    return h


def graceful_stop(h):
    pid = h.pid()
    os.kill(pid, signal.SIGWINCH)
    assert wait_for(lambda: not os.path.exists("/proc/%d" % pid), timeout=30)


def exit_lines(h):
    out = []
    for line in read_file(h.path("logs", "exit.txt")).splitlines():
        m = EXIT_LINE.match(line)
        assert m, line
        out.append((m.group(1), int(m.group(2)), m.group(3), m.group(4)))
    return out


def served(h, n=12):
    """(pid, interpreter) of the processes that ran the handler."""
    got = set()
    with ThreadPoolExecutor(4) as ex:
        for path in ("/app/x", "/named/x"):
            for d in ex.map(lambda _: js(h.get(path)), range(n)):
                assert d["errors"] == {"not_callable": "TypeError", "not_request": "TypeError",
                                       "not_server": "TypeError",
                                       "other_interp": "ValueError"}, d
                got.add((d["pid"], d["interpreter"]))
    return got


def check_exit_lines(lines, served_by, children):
    assert len(lines) == len(set(lines)), "a cleanup ran twice: %s" % lines
    for pid, interp in served_by:
        mine = [l for l in lines if l[1] == pid and l[2] == interp]
        # newest first, the failing one between them stopping nothing
        assert mine == [("last", pid, interp, "'raw-%d'" % pid),
                        ("apache", pid, interp, "None"),
                        ("first", pid, interp, "'server-%d'" % pid)], (mine, lines)
    started = {l[1] for l in lines if l[0] == "import"}
    assert {pid for pid, _ in served_by} | set(children) <= started, (lines, children)
    assert all(l[2:] == ("main_interpreter", "'started'") for l in lines if l[0] == "import")


def check_exit_errors(h, served_by):
    tb = [l for l in h.log().splitlines() if "MP00055: " in l]
    assert sum("ZeroDivisionError: exit cleanup fails on purpose" in l for l in tb) \
        == len(served_by), h.log()[-4000:]
    assert all("register_cleanup (child exit) callable: " in l for l in tb), tb
    assert any('exits.py", line' in l and "in fails" in l for l in tb), tb


@pytest.mark.parametrize("stop", ["stop", "graceful-stop"])
@pytest.mark.parametrize("mpm", MPMS)
def test_cleanups_run_once_per_child_at_exit(mpm, stop):
    h = exit_server(mpm, settings(mpm))
    try:
        served_by = served(h)
        children = h.children()
        assert not exit_lines(h)  # nothing ran yet
        h.stop() if stop == "stop" else graceful_stop(h)
        lines = exit_lines(h)
        check_exit_lines(lines, served_by, children)
        check_exit_errors(h, served_by)
        assert "Segmentation fault" not in h.log() and "MP00056" not in h.log()
    finally:
        h.cleanup()


@pytest.mark.parametrize("mpm", ["prefork", "event"])
def test_cleanups_run_when_a_restart_replaces_the_children(mpm):
    h = exit_server(mpm, one_child(mpm))
    try:
        served_by = served(h, 3)
        (pid,) = {p for p, _ in served_by}
        h.graceful()
        # PythonImport's, registered first, runs last
        assert wait_for(lambda: any(l[1] == pid and l[0] == "import" for l in exit_lines(h)),
                        timeout=20), h.log()[-3000:]
        check_exit_lines(exit_lines(h), served_by, [])
        # the new child registers its own, run at its exit
        new = served(h, 3)
        assert pid not in {p for p, _ in new}
        h.stop()
        check_exit_lines(exit_lines(h), served_by | new, [])
    finally:
        h.cleanup()


def test_prefork_child_stopped_inside_python_skips_its_cleanups():
    """prefork ends a child from its signal handler: a child stopped while
    running Python cannot go back in; it says so and exits."""
    h = exit_server("prefork", one_child("prefork"))
    try:
        served_by = served(h, 2)
        ex = ThreadPoolExecutor(1)
        fut = ex.submit(h.get, "/app/x?sleep=20", timeout=60)
        time.sleep(1.0)  # in time.sleep(), in the handler
        h.stop()
        with pytest.raises(Exception):
            fut.result()
        ex.shutdown()
        assert "MP00056: mod_python: the child process exits while its thread " \
               "runs Python" in h.log(), h.log()[-3000:]
        assert not [l for l in exit_lines(h) if (l[1], l[2]) in served_by and l[0] != "import"]
    finally:
        h.cleanup()


# ------------------------------------------------------------ mod_python.version


def test_version_module_has_the_build_facts(srv):
    d = js(srv.get("/app/x?do=version"))
    v = d["values"]
    with open(os.path.join(ROOT, "configure.ac")) as f:
        package = re.search(r"AC_INIT\(\[mod_python\], \[([^]]+)\]", f.read()).group(1)
    assert d["is_module"] and "version" in d["all"]
    assert v["version"] == d["mp_version"] == d["c_version"] == package
    assert os.path.realpath(v["HTTPD"]) == os.path.realpath(HTTPD)
    out = subprocess.run([v["HTTPD"], "-v"], capture_output=True, text=True).stdout
    assert re.search(r"Server version: Apache/%s\b" % re.escape(v["HTTPD_VERSION"]), out), out
    server = srv.get("/app/x?do=python").headers["Server"]
    assert server.startswith("Apache/%s " % v["HTTPD_VERSION"]), server
    out = subprocess.run([v["HTTPD"], "-V"], capture_output=True, text=True).stdout
    assert "Server loaded:  APR %s," % v["APR_VERSION"] in out, out
    assert v["LIBEXECDIR"] == MODULES_DIR
    assert os.path.isdir(v["SYSCONFDIR"])
    assert v["PYTHON_BIN"] == d["executable"] and os.access(v["PYTHON_BIN"], os.X_OK)
    # the build loaded (MP_MODULE's, or this tree's)
    assert v["TEST_MOD_PYTHON_SO"] == os.path.join(BUILD_ROOT, "src", ".libs", "mod_python.so")
    assert os.path.isfile(v["TEST_MOD_PYTHON_SO"])
    assert v["TESTHOME"] == os.path.join(BUILD_ROOT, "test") and os.path.isdir(v["TESTHOME"])


def test_version_module_outside_httpd():
    """Tools read it without httpd (no _apache there)."""
    code = ("import mod_python, mod_python.version as v; "
            "print(mod_python.mp_version, v.version, v.HTTPD_VERSION)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env={"PYTHONPATH": os.path.join(ROOT, "lib", "python"),
                            "PATH": os.environ.get("PATH", "")})
    assert r.returncode == 0, r.stderr
    mp, version, httpd = r.stdout.split()
    assert mp == version and re.match(r"\d+\.\d+\.\d+", httpd), r.stdout
