"""mod_python.cache: the classes of 3.5's cache module.  The module needs
only the standard library, so most is tested in plain pytest (from
lib/python); HTTPCache and HttpModuleCache fetch from a real httpd, and
FileCache / ModuleCache are used inside handlers (event and prefork).
The server side is apps/cache/."""
import gc
import json
import os
import sys
import threading
import time

import pytest

from conftest import MPMS
from harness import ROOT, Httpd, one_child

sys.path.insert(0, os.path.join(ROOT, "lib", "python"))
from mod_python import cache  # noqa: E402

MPM_PARAMS = [m for m in ("event", "prefork") if m in MPMS]


class Squares(cache.Cache):
    def __init__(self, max_size=0):
        cache.Cache.__init__(self, max_size)
        self.built = []

    def build(self, key, name, opened, entry):
        self.built.append(name)
        return name * name


def test_cache_builds_once_and_keeps_lru_order():
    c = Squares(max_size=3)
    assert [c[i] for i in (1, 2, 3, 1)] == [1, 4, 9, 1]
    assert c.built == [1, 2, 3]
    assert (c.lru(), c.mru()) == (2, 1)
    c[4]                                   # 2 is dropped
    assert 2 not in c and len(c) == 3 and c.lru() == 3
    c[2]
    assert c.built == [1, 2, 3, 4, 2]
    c[9] = "set"
    assert c[9] == "set" and c.built[-1] == 2
    del c[9]
    assert 9 not in c
    c.clear()
    assert len(c) == 0 and c.lru() is None
    assert Squares().lru() is None and Squares().mru() is None   # unbounded
    with pytest.raises(NotImplementedError):
        cache.Cache()["x"]


def test_one_build_per_name_across_threads():
    started = threading.Event()

    class Slow(cache.Cache):
        calls = 0

        def build(self, key, name, opened, entry):
            Slow.calls += 1
            started.wait(5)
            time.sleep(0.05)
            return object()

    c = Slow()
    got = []
    threads = [threading.Thread(target=lambda: got.append(c["k"])) for _ in range(8)]
    for t in threads:
        t.start()
    started.set()
    for t in threads:
        t.join()
    assert Slow.calls == 1 and len(got) == 8 and all(g is got[0] for g in got)


def test_function_cache():
    calls = []

    def f(a, b=0):
        calls.append((a, b))
        return a + b

    fc = cache.FunctionCache(f)
    assert [fc(1), fc(1), fc(1, b=2), fc(1, b=2), fc(2)] == [1, 1, 3, 3, 2]
    assert calls == [(1, 0), (1, 2), (2, 0)]


def test_weak_cache_lets_values_go():
    class Thing:
        pass

    class Things(cache.WeakCache):
        def build(self, key, name, opened, entry):
            return Thing()

    c = Things()
    t = c["a"]
    assert c["a"] is t and "a" in c
    del t
    gc.collect()
    assert "a" not in c
    assert isinstance(c["a"], Thing)


def test_file_and_module_cache_follow_the_file(tmp_path):
    p = tmp_path / "f.txt"
    p.write_bytes(b"one")
    fc = cache.FileCache()
    assert fc[str(p)] == b"one"
    # the same size and mtime one second back: still seen (3.5 compared mtimes)
    st = os.stat(p)
    p.write_bytes(b"two")
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns - 10**9))
    assert fc[str(p)] == b"two"
    assert cache.FileCache(mode="r")[str(p)] == "two"
    m = tmp_path / "m.py"
    m.write_text("# -*- coding: utf-8 -*-\nX = 'é'\n")
    mc = cache.ModuleCache()
    mod = mc[str(m)]
    assert mod.X == "é" and mod.__file__ == str(m) and mc[str(m)] is mod
    assert mod.__name__ not in sys.modules
    m.write_text("X = 2\n")
    assert mc[str(m)].X == 2 and mc[str(m)] is not mod
    with pytest.raises(FileNotFoundError):
        fc[str(tmp_path / "missing")]


def test_parse_rfc822_time():
    assert cache.parseRFC822Time("Tue, 14 Nov 2023 22:13:20 GMT") == 1700000000
    assert cache.re_max_age.search("public, max-age=30").group(1) == "30"


# ------------------------------------------------------------ with httpd

@pytest.fixture(scope="module", params=MPM_PARAMS)
def srv(request):
    h = Httpd(request.param)
    try:
        h.config(h.install_app("cache"), mpm_settings=one_child(request.param))
        h.start()
        yield h
    finally:
        h.cleanup()


def stats(srv):
    r = srv.request("/res/x?stats")
    assert r.status == 200
    return json.loads(r.body)


def test_http_cache_honours_max_age_and_revalidates(srv):
    with open(srv.path("data", "version.txt"), "w") as f:
        f.write("1\n")
    url = "http://127.0.0.1:%d/res/x" % srv.port
    c = cache.HTTPCache()
    start = stats(srv)
    e = c[url]
    assert e.entity == b"version 1" and str(e) == "version 1"
    assert e.metadata["ETag"] == '"v1"'
    assert c[url] is e                            # fresh: no request
    time.sleep(1.2)
    assert c[url] is e                            # stale: revalidated, 304
    with open(srv.path("data", "version.txt"), "w") as f:
        f.write("2\n")
    time.sleep(1.2)
    e2 = c[url]
    assert e2 is not e and e2.entity == b"version 2"
    end = stats(srv)
    assert end["full"] - start["full"] == 2 and end["304"] - start["304"] == 1


def test_http_module_cache(srv):
    c = cache.HttpModuleCache()
    m = c["http://127.0.0.1:%d/static/remote.py" % srv.port]
    assert m.answer() == 42


def test_file_and_module_cache_in_a_handler(srv):
    def get():
        r = srv.request("/use/x")
        assert r.status == 200, r.body
        return json.loads(r.body)

    a = get()
    assert (a["text"], a["plain"], a["greeting"]) == ("first text\n", "first text\n", "hello 1")
    b = get()
    assert b["module_id"] == a["module_id"] and b["builds"] == a["builds"]
    with open(srv.path("data", "text.txt"), "w") as f:
        f.write("second text\n")
    with open(srv.path("data", "page.py"), "w") as f:
        f.write('GREETING = "hello 2"\n')
    c = get()
    assert (c["text"], c["plain"], c["greeting"]) == ("second text\n", "second text\n",
                                                      "hello 2")
    assert c["builds"] == a["builds"] + 1 and c["module_id"] != a["module_id"]
