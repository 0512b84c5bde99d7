"""mod_python 3.5's global locks, used as Session and psp use them:
_apache._global_lock(req.server, key[, index]) around work shared by
every process and thread of the server.  /app/x?<action>&name=value..."""
import json
import os
import threading
import time
import urllib.parse

import _apache
from mod_python import apache


def handler(req):
    q = dict(urllib.parse.parse_qsl(req.args or ""))
    return out(req, globals()["do_" + q.pop("do")](req, q))


def out(req, obj):
    req.content_type = "application/json"
    req.write(json.dumps(obj))
    return apache.OK


def who():
    return {"pid": os.getpid(), "thread": threading.get_ident()}


def lock_args(q):
    """(key[, index]) from the query: key=..., index=N."""
    if "index" in q:
        return (q.get("key"), int(q["index"]))
    return (q.get("key"),)


def do_counter(req, q):
    """Read-modify-write of a counter file, under the lock unless nolock:
    the sleep between read and write lets any other writer in."""
    path, args = q["file"], lock_args(q)
    if "nolock" not in q:
        _apache._global_lock(req.server, *args)
    try:
        with open(path) as f:
            n = int(f.read() or 0)
        time.sleep(float(q.get("sleep", 0.02)))
        tmp = "%s.%d.%d" % (path, os.getpid(), threading.get_ident())
        with open(tmp, "w") as f:
            f.write(str(n + 1))
        os.rename(tmp, path)
    finally:
        if "nolock" not in q:
            _apache._global_unlock(req.server, *args)
    return who()


def do_hold(req, q):
    """Hold a lock for `sleep` seconds; `mark` exists while it is held."""
    args = lock_args(q)
    _apache._global_lock(req.server, *args)
    try:
        with open(q["mark"], "w") as f:
            f.write("held")
        time.sleep(float(q["sleep"]))
        os.unlink(q["mark"])
    finally:
        _apache._global_unlock(req.server, *args)
    return who()


def do_wait(req, q):
    """Take a lock someone holds: how long it took."""
    t = time.time()
    _apache._global_lock(req.server, *lock_args(q))
    _apache._global_unlock(req.server, *lock_args(q))
    return dict(who(), waited=time.time() - t)


def do_try(req, q):
    """_global_trylock: True (taken, given back) or False (held)."""
    args = lock_args(q)
    got = _apache._global_trylock(req.server, *args)
    if got:
        _apache._global_unlock(req.server, *args)
    return dict(who(), got=got)


def do_try_hashed(req, q):
    """trylock by the index the key hashes to, as 3.5 computes it (index 0
    is kept for dbm locking): the same lock as by key."""
    n = int(q["n"])
    index = abs(hash(q["key"])) % (n - 1) + 1
    return do_try(req, {"key": None, "index": str(index)})


def do_python(req, q):
    """Python work only: runs while other threads wait for a lock."""
    return dict(who(), sum=sum(range(1000)))


def do_keep(req, q):
    """Take a lock and end the request without giving it back."""
    _apache._global_lock(req.server, *lock_args(q))
    return who()


def do_release(req, q):
    _apache._global_unlock(req.server, *lock_args(q))
    return who()


def do_release_in_thread(req, q):
    """A lock is the process's: another thread may give it back (Session
    does, from a request cleanup httpd may run in another thread)."""
    args, errors, srv = lock_args(q), [], req.server
    _apache._global_lock(srv, *args)

    def release():
        try:
            _apache._global_unlock(srv, *args)
        except Exception as e:
            errors.append(repr(e))
    t = threading.Thread(target=release)
    t.start()
    t.join()
    again = _apache._global_trylock(srv, *args)
    if again:
        _apache._global_unlock(srv, *args)
    return {"errors": errors, "again": again}


def do_release_in_cleanup(req, q):
    """Session's way: lock now, unlock when the request is done."""
    args, srv = lock_args(q), req.server
    _apache._global_lock(srv, *args)
    req.register_cleanup(lambda data: _apache._global_unlock(srv, *args), None)
    return who()


def do_threads(req, q):
    """Python threads of one request, each a read-modify-write of one
    counter under the lock: none lost."""
    box, n, srv = {"v": 0}, int(q["n"]), req.server

    def work():
        for _ in range(5):
            _apache._global_lock(srv, "threads")
            v = box["v"]
            time.sleep(0.002)
            box["v"] = v + 1
            _apache._global_unlock(srv, "threads")
    ts = [threading.Thread(target=work) for _ in range(n)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return {"value": box["v"], "expected": 5 * n}


def do_errors(req, q):
    """What malformed calls raise."""
    res = {}
    calls = {
        "index_high": lambda: _apache._global_lock(req.server, "k", int(q["n"])),
        "index_low": lambda: _apache._global_trylock(req.server, "k", -2),
        "not_server": lambda: _apache._global_lock("server", "k"),
        "unhashable": lambda: _apache._global_lock(req.server, ["k"]),
        "not_held": lambda: _apache._global_unlock(req.server, None, 1),
        "no_key": lambda: _apache._global_lock(req.server),
    }
    for name, call in calls.items():
        try:
            call()
            res[name] = None
        except Exception as e:
            res[name] = [type(e).__name__, str(e)]
    # the highest index is a lock like any other
    top = int(q["n"]) - 1
    res["top"] = _apache._global_trylock(req.server, None, top)
    if res["top"]:
        _apache._global_unlock(req.server, None, top)
    return res


def do_version(req, q):
    """mod_python.version as 3.5 tools read it: the build's facts."""
    import sys
    import types

    import mod_python
    import mod_python.version as v
    names = ["version", "HTTPD", "HTTPD_VERSION", "APR_VERSION", "LIBEXECDIR",
             "SYSCONFDIR", "PYTHON_BIN", "TEST_MOD_PYTHON_SO", "TESTHOME"]
    return {"values": {n: getattr(v, n) for n in names},
            "is_module": isinstance(mod_python.version, types.ModuleType),
            "mp_version": mod_python.mp_version,
            "c_version": _apache.version,
            "all": mod_python.__all__,
            "executable": sys.executable}
