"""PythonInterpreterGIL shared|own|auto: virtual hosts whose interpreters
have their own GIL (PEP 684, Python 3.12+) run their handlers in parallel.

The parallel tests use the builds of test_python_versions (pyenv's 3.12 and
3.13, skipped where missing).  Parallelism is shown by order, not by time:
a handler of one host holds its GIL inside one long C call (a regular
expression that backtracks for seconds), and a request to the other host
must finish before it does: it cannot with the shared GIL.
"""
import os
import re
import subprocess
import threading
import time

import pytest

from harness import Httpd, handler_vhost, one_child, threaded, wait_for
from test_python_versions import module_for  # noqa: F401 (a fixture)

MPMS = ["worker", "event"]

HANDLER = r"""import os, re, time
from mod_python import apache
MARKS = {marks!r}

def handler(req):
    now = time.monotonic()   # no GIL let go between here and the GIL taken
    if req.args == "hold":
        open(os.path.join(MARKS, "start"), "w").close()
        now, cpu = time.monotonic(), time.thread_time()
        # One C call that keeps this interpreter's GIL for seconds.
        PATTERN.match("a" * 36 + "b")
        # It cannot have ended before now + its CPU time: the GIL may be let
        # go right after it (an eval breaker check), so no clock read here
        # is sure to come before another thread's.
        now += time.thread_time() - cpu
    req.write("%s %s %r" % (apache.interpreter, apache.interpreter_gil, now))
    return apache.OK

PATTERN = re.compile(r"(a|aa)+$")
"""

# Every object type of _apache, from several interpreters at once.
EVERY_TYPE = r"""import os
from mod_python import apache

def outputfilter(filter):
    while True:
        s = filter.read()
        if not s:
            break
        filter.write(s.upper())
    if s is None:
        filter.close()

def handler(req):
    t = apache.table()
    t["a"] = "1"
    t.add("a", "2")
    req.headers_out["X-Gil"] = apache.interpreter_gil
    parts = [apache.interpreter, apache.interpreter_gil, req.uri, req.method,
             req.headers_in.get("Host", ""), ",".join(v for k, v in t.items()),
             req.server.server_hostname, req.connection.remote_ip,
             str(req.hlist.handler), str(req.finfo.filetype if req.finfo else None),
             str(sorted(req.get_options().keys()))]
    req.content_type = "text/plain"
    req.write("|".join(parts))
    return apache.OK
"""

LEGACY_C = r"""#include <Python.h>
/* Single-phase initialisation: refused where an interpreter has its own GIL. */
static struct PyModuleDef def = { PyModuleDef_HEAD_INIT, "legacyext", NULL, -1, NULL };
PyMODINIT_FUNC PyInit_legacyext(void) { return PyModule_Create(&def); }
"""


def vhost(h, name, gil, directory, inner=""):
    return handler_vhost(h, name, directory, "PythonInterpreterGIL " + gil, inner)


def two_hosts(mpm, prefix, so, gil, handler=HANDLER, inner=""):
    h = Httpd(mpm)
    marks = h.path("marks")
    os.makedirs(marks)
    os.chmod(marks, 0o777)
    body = "PythonHome %s\n<Location /server-status>\n    SetHandler server-status\n" \
           "</Location>\n" % prefix
    for name in ("a.test", "b.test"):
        d = h.path("htdocs", name)
        h.write("htdocs/%s/handler.py" % name, handler.format(marks=marks))
        body += vhost(h, name, gil, d, inner)
    h.config(body, mpm_settings=threaded(1, 8), python_module=so, modules=["status"])
    return h, marks


@pytest.mark.parametrize("mpm", MPMS)
@pytest.mark.parametrize("gil", ["own", "shared"])
def test_hosts_run_in_parallel_with_their_own_gil(module_for, mpm, gil):
    minor, prefix, so = module_for
    h, marks = two_hosts(mpm, prefix, so, gil)
    try:
        h.start()
        assert h.get("/x", host="a.test").text.startswith("a.test %s " % gil)
        assert h.get("/x", host="b.test").text.startswith("b.test %s " % gil)
        held = []
        a = threading.Thread(target=lambda: held.append(h.get("/x?hold", host="a.test")))
        a.start()
        assert wait_for(lambda: os.path.exists(os.path.join(marks, "start")), 10)
        # Past the close() after the mark, which lets the GIL go: a.test's
        # handler is in its C call now, for seconds.
        time.sleep(0.5)
        b = h.get("/x", host="b.test", timeout=60)
        a.join(60)
        assert held and held[0].status == 200 and b.status == 200
        a_done = float(held[0].text.split()[2])
        b_started = float(b.text.split()[2])
        # b.test's handler started while a.test's still held its GIL, or
        # (shared) could only start when it had let it go.
        assert (b_started < a_done) == (gil == "own"), (held[0].text, b.text)
        status = h.get("/server-status?auto", host="a.test").text
        for name in ("a.test", "b.test"):
            assert "PythonInterpreter: name=%s modules=1 watcher=inotify gil=%s" % (name, gil) \
                in status, status
        assert "Fatal Python error" not in h.log()
    finally:
        h.cleanup()


@pytest.mark.parametrize("mpm", MPMS)
def test_every_type_from_two_own_gil_interpreters_at_once(module_for, mpm):
    minor, prefix, so = module_for
    h, marks = two_hosts(mpm, prefix, so, "own", handler=EVERY_TYPE,
                         inner="PythonOutputFilter handler UPPER\n        AddOutputFilter UPPER .up")
    try:
        h.start()
        results, errors = [], []

        def client(host):
            try:
                for i in range(40):
                    r = h.get("/f%d.up" % i, host=host)
                    results.append((host, i, r.status, r.text, r.headers.get("X-Gil")))
            except Exception as e:  # reported below
                errors.append(e)

        threads = [threading.Thread(target=client, args=(host,))
                   for host in ("a.test", "b.test") * 3]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        assert not errors, errors
        assert len(results) == 240
        for host, i, status, text, gil in results:
            assert status == 200 and gil == "own", (host, status, text)
            assert text.startswith("%s|OWN|/F%d.UP|GET|%s|1,2|" % (host.upper(), i,
                                                                  host.upper())), text
        log = h.log()
        assert "Fatal Python error" not in log and "exit signal" not in log, log[-3000:]
    finally:
        h.cleanup()


def build_legacy(h, minor, prefix):
    """A single-phase extension module (as most third-party ones still are)
    in h's htdocs/lib, built against the Python of the module."""
    lib = h.path("htdocs", "lib")
    os.makedirs(lib, exist_ok=True)
    src = h.path("legacyext.c")
    with open(src, "w") as f:
        f.write(LEGACY_C)
    subprocess.run(["gcc", "-shared", "-fPIC", "-I%s/include/python%s" % (prefix, minor),
                    "-o", os.path.join(lib, "legacyext.so"), src], check=True)
    os.chmod(os.path.join(lib, "legacyext.so"), 0o755)
    return lib


AUTO_HANDLER = """import sys
sys.path.insert(0, {lib!r})
{imports}
from mod_python import apache

def handler(req):
    if req.args == "lazy":
        import legacyext
    req.write("%s %s %s" % (apache.interpreter, apache.interpreter_gil,
                            "legacyext" in sys.modules))
    return apache.OK
"""


@pytest.mark.parametrize("mpm", ["prefork", "event"])
def test_auto_falls_back_to_the_shared_gil_for_a_refusing_extension(module_for, mpm):
    minor, prefix, so = module_for
    h = Httpd(mpm)
    try:
        lib = build_legacy(h, minor, prefix)
        body = "PythonHome %s\n" % prefix
        hosts = {"uses.test": ("auto", "import legacyext"),
                 "plain.test": ("auto", ""),
                 "lazy.test": ("auto", ""),
                 "strict.test": ("own", "import legacyext")}
        for name, (gil, imports) in hosts.items():
            h.write("htdocs/%s/handler.py" % name, AUTO_HANDLER.format(lib=lib, imports=imports))
            body += vhost(h, name, gil, h.path("htdocs", name))
        h.config(body, mpm_settings=one_child(mpm, 8),
                 python_module=so)
        h.start()
        # The import fails in the interpreter with its own GIL; the request
        # runs again in its shared-GIL replacement, before anything was sent.
        assert h.get("/x", host="uses.test").text == "uses.test shared True"
        assert h.get("/x", host="plain.test").text == "plain.test own False"
        # `own` never falls back: the import error is the handler's.
        r = h.get("/x", host="strict.test")
        assert r.status == 500
        # A handler that imports it lazily fails once; the next request
        # runs in the replacement.
        assert h.get("/x?lazy", host="lazy.test").status == 500
        assert h.get("/x?lazy", host="lazy.test").text == "lazy.test shared True"
        log = h.log()
        for name in ("uses.test", "lazy.test"):
            assert ("MP00017: mod_python: PythonInterpreterGIL auto: interpreter '%s' goes "
                    "over to the shared GIL: extension module 'legacyext' does not support "
                    "its own GIL" % name) in log, log[-3000:]
        assert "strict.test" not in log.split("MP00017")[-1].split("\n")[0]
        assert "module legacyext does not support loading in subinterpreters" in log
        assert "Fatal Python error" not in log and "exit signal" not in log
    finally:
        h.cleanup()


@pytest.mark.parametrize("mpm", ["prefork", "event"])
def test_auto_with_python_import_falls_back_at_child_start(module_for, mpm):
    minor, prefix, so = module_for
    h = Httpd(mpm)
    try:
        lib = build_legacy(h, minor, prefix)
        d = h.path("htdocs", "app")
        h.write("htdocs/app/first.py", "LOADED = True\n")
        h.write("htdocs/app/uses.py", "import sys\nsys.path.insert(0, %r)\nimport legacyext\n" % lib)
        h.write("htdocs/app/handler.py", """import sys
from mod_python import apache
def handler(req):
    names = sorted(m.split("/")[-1] for m in apache.module_cache())
    req.write("%s %s %s" % (apache.interpreter_gil, "legacyext" in sys.modules, names))
    return apache.OK
""")
        h.config("""PythonHome {prefix}
<VirtualHost 127.0.0.1:{port}>
    ServerName app.test
    PythonInterpreterGIL auto
    PythonImport {d}/first.py app.test
    PythonImport {d}/uses.py app.test
    <Directory {d}>
        SetHandler mod_python
        PythonHandler handler
    </Directory>
    DocumentRoot {d}
</VirtualHost>
""".format(prefix=prefix, port=h.port, d=d),
                 mpm_settings=one_child(mpm, 8), python_module=so)
        h.start()
        # Both PythonImport lines ran again in the replacement, in order.
        r = h.get("/x", host="app.test")
        assert r.text == "shared True ['first.py', 'handler.py', 'uses.py']", r.text
        log = h.log()
        assert "interpreter 'app.test' goes over to the shared GIL: extension " \
               "module 'legacyext'" in log, log[-3000:]
        assert "PythonImport" not in log.split("MP00017")[-1], log[-3000:]
    finally:
        h.cleanup()


def test_own_gil_needs_python_3_12_and_bad_values_fail(httpd_factory):
    import sys
    h = httpd_factory("event")
    h.config("<VirtualHost 127.0.0.1>\n  PythonInterpreterGIL sometimes\n</VirtualHost>\n")
    ok, out = h.configtest()
    assert not ok and "PythonInterpreterGIL: 'sometimes' is not shared, own or auto" in out
    assert re.search(r"line \d+ of", out), out
    h.config("PythonInterpreterGIL auto\n")
    ok, out = h.configtest()
    assert ok, out
    h.config("PythonInterpreterGIL own\n")
    ok, out = h.configtest()
    # The default build is the system Python's.
    embedded = subprocess.run(["/usr/bin/python3", "-c", "import sys; print(sys.version_info >= (3, 12))"],
                              capture_output=True, text=True).stdout.strip() == "True"
    if embedded or os.environ.get("MP_MODULE"):
        pytest.skip("the module under test is built for a Python with PEP 684")
    assert not ok and "PythonInterpreterGIL own" in out and "Python 3.12 or later" in out \
        and "built for Python %d.%d" % sys.version_info[:2] in out, out


def test_auto_on_python_3_11_is_the_shared_gil(httpd_factory):
    h = httpd_factory("event")
    h.write("htdocs/app/handler.py", """from mod_python import apache
def handler(req):
    req.write(apache.interpreter_gil)
    return apache.OK
""")
    d = h.path("htdocs", "app")
    h.config("PythonInterpreterGIL auto\n<Directory %s>\nSetHandler mod_python\n"
             "PythonHandler handler\n</Directory>\n" % d)
    h.start()
    text = h.get("/app/x").text
    assert text in ("shared", "own")
    if not os.environ.get("MP_MODULE"):
        assert text == "shared"   # the system 3.11
