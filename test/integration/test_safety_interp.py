"""Safety (issue 10, item 11): interpreters named after request paths are
limited per process by PythonInterpLimit; past it a request for a new
directory runs in its virtual host's interpreter, and the log says so once.
Interpreters named in the configuration are not counted."""
import os

import pytest

from harness import Httpd, one_child

HANDLER = r'''
import os
from mod_python import apache

def handler(req):
    req.content_type = "text/plain"
    req.write("%d %s" % (os.getpid(), req.interpreter))
    return apache.OK
'''

LIMIT_LINE = "MP00006: mod_python: PythonInterpLimit ({n}) reached in this process"


def make_server(mpm, ndirs, limit_line, named=()):
    """One child; `ndirs` directories d0..d(n-1) under per-directory
    interpreters, and one directory per name in `named` under
    PythonInterpreter."""
    h = Httpd(mpm)
    conf = [limit_line]
    h.write("htdocs/h.py", HANDLER)    # found in the handler's directory
    for i in range(ndirs):
        os.makedirs(h.path("htdocs", "d%d" % i))
    conf.append("""
<Directory {root}>
    SetHandler mod_python
    PythonHandler h
    PythonInterpPerDirectory On
</Directory>""".format(root=h.path("htdocs")))
    for name in named:
        os.makedirs(h.path("htdocs", "n_" + name))
        conf.append("""
<Directory {d}>
    PythonInterpreter {name}
</Directory>""".format(d=h.path("htdocs", "n_" + name), name=name))
    h.config("\n".join(conf), mpm_settings=one_child(mpm))
    return h


def interp_of(h, path):
    r = h.get(path)
    assert r.status == 200, (path, r, h.log()[-2000:])
    pid, name = r.body.decode().split(" ", 1)
    return int(pid), name


@pytest.mark.parametrize("mpm", ["event", "prefork"])
def test_per_directory_interpreters_stop_at_the_limit(mpm):
    h = make_server(mpm, 6, "PythonInterpLimit 3", named=("alpha", "beta"))
    try:
        h.start()
        got = [interp_of(h, "/d%d/x" % i) for i in range(6)]
        pids = {p for p, _ in got}
        assert len(pids) == 1, got            # one process: one count
        names = [n for _, n in got]
        for i in range(3):
            assert names[i] == h.path("htdocs", "d%d" % i) + "/", names
        assert names[3:] == ["localhost"] * 3, names
        # the first three keep their own interpreters
        assert interp_of(h, "/d1/x")[1] == h.path("htdocs", "d1") + "/"
        # configured names are not limited
        assert interp_of(h, "/n_alpha/x")[1] == "alpha"
        assert interp_of(h, "/n_beta/x")[1] == "beta"
        log = h.log()
        assert log.count(LIMIT_LINE.format(n=3)) == 1, log
        assert "[python:warn]" in log and "d3/" in log, log
        assert "exit signal" not in log
    finally:
        h.cleanup()


def test_default_limit_is_64():
    h = make_server("event", 66, "")
    try:
        h.start()
        names = [interp_of(h, "/d%d/x" % i)[1] for i in range(66)]
        assert len(set(names[:64])) == 64 and "localhost" not in names[:64], names
        assert names[64:] == ["localhost", "localhost"], names
        assert h.log().count(LIMIT_LINE.format(n=64)) == 1
    finally:
        h.cleanup()


def test_limit_is_a_main_server_directive(httpd_factory):
    h = httpd_factory("event")
    h.config("<VirtualHost 127.0.0.1>\nPythonInterpLimit 4\n</VirtualHost>\n")
    ok, out = h.configtest()
    assert not ok and "PythonInterpLimit" in out and "VirtualHost" in out, out
