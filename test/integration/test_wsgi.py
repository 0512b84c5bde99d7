"""PythonHandler mod_python.wsgi: WSGI applications (PEP 3333) as mod_python
3.5 served them, with the application module loaded through mod_python's
importer (an edit reloads it), wsgi.errors to the error log, streaming,
close(), wsgi.file_wrapper: event and prefork (worker for threads)."""
import http.client
import json
import os
import pwd
import re
import socket
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from harness import RUN_USER, Httpd, one_child, wait_for

DATA = bytes(range(256)) * 1200   # 307200 bytes


@pytest.fixture(scope="module", params=["event", "prefork", "worker"])
def srv(request):
    h = Httpd(request.param)
    try:
        h.config(h.install_app("wsgi"), mpm_settings=one_child(request.param))
        with open(h.path("htdocs", "data.bin"), "wb") as f:
            f.write(DATA)
        os.chmod(h.path("htdocs", "data.bin"), 0o644)
        h.start()
        yield h
    finally:
        h.cleanup()


def logged(srv, text, timeout=5):
    return wait_for(lambda: text in srv.log(), timeout)


def log_lines(srv, text):
    return [x for x in srv.log().splitlines() if text in x]


# ------------------------------------------------------------ finding the application

def test_application_in_a_file(srv):
    r = srv.request("/w/hello")
    assert r.status == 200 and r.body == b"Hello World"
    assert r.headers["Content-Type"] == "text/plain"


def test_default_callable_is_application(srv):
    assert srv.request("/default").body == b"default callable"


def test_plain_name_beside_the_handler_directory(srv):
    # 3.5 found it on sys.path (the handler's directory was put there);
    # the importer loads it by path
    r = srv.request("/dir/x")
    assert r.status == 200 and r.body == b"plainmod managed"


def test_home_relative_name(srv):
    assert srv.request("/home/x").body == b"homemod"


def test_dotted_name_on_sys_path(srv):
    r = srv.request("/dotted/y")
    assert r.status == 200 and r.body == b"wsgipkg.site /dotted"


def test_missing_option_is_an_error(srv):
    r = srv.request("/noopt")
    assert r.status == 500
    assert logged(srv, "MP00070: mod_python.wsgi: PythonOption "
                       "mod_python.wsgi.application is not set")


def test_missing_callable_declines(srv):
    # 3.5: a warning, and httpd's default handler (no such file: 404)
    r = srv.request("/nocallable")
    assert r.status == 404
    assert logged(srv, "MP00071: mod_python.wsgi: mod_python.wsgi.application")
    line = log_lines(srv, "MP00071")[-1]
    assert "has no 'missing', declining" in line and "[python:warn]" in line


def test_uri_outside_base_uri_declines(srv):
    r = srv.request("/based/sub/hello")
    assert r.status == 200 and r.body == b"Hello World"
    env = json.loads(srv.request("/based/sub/environ").body)
    assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == ("/based/sub", "/environ")
    assert srv.request("/based/other").status == 404
    assert logged(srv, "MP00072: mod_python.wsgi: '/based/other' is not under "
                       "mod_python.wsgi.base_uri '/based/sub', declining")


def test_malformed_application_option(srv):
    assert srv.request("/badspec").status == 500
    assert logged(srv, "MP00074: PythonOption mod_python.wsgi.application '%s/apps.py::': "
                       "expected module::callable" % srv.htdocs)


def test_bad_reload_option(srv):
    assert srv.request("/badreload/hello").status == 500
    assert logged(srv, "MP00074: PythonOption mod_python.wsgi.reload 'maybe': On or Off")
    assert srv.request("/filereload/hello").status == 500
    assert logged(srv, "MP00074: PythonOption mod_python.wsgi.reload On: "
                       "mod_python.wsgi.application")


# ------------------------------------------------------------ the environ

def test_environ(srv):
    env = json.loads(srv.request("/w/environ/a?q=1").body)
    assert (env["SCRIPT_NAME"], env["PATH_INFO"]) == ("/w", "/environ/a")
    assert env["QUERY_STRING"] == "q=1" and env["REQUEST_METHOD"] == "GET"
    # wsgi.errors is the error log, not sys.stderr (3.5's)
    assert env["errors_type"] == "ErrorLog" and env["errors_is_stderr"] is False
    assert env["file_wrapper"] == "FileWrapper" and env["input_type"] == "mp_request"
    assert env["wsgi.input_terminated"] is True
    assert env["wsgi.multithread"] is (srv.mpm != "prefork")


def test_wsgi_input(srv):
    body = b"line\n" * 5000
    r = srv.request("/w/body", method="POST", body=body)
    assert r.body == b"25000 bytes, 5000 lines"


# ------------------------------------------------------------ the response

def test_write_callable_then_iterable(srv):
    assert srv.request("/w/write").body == b"written directly; then iterated"


def test_close_is_called(srv):
    r = srv.request("/w/closing")
    assert r.status == 200 and r.body == b"block one;block two"
    assert logged(srv, "wsgi apps: closing closed")


def test_exception_before_start_response_is_a_500(srv):
    r = srv.request("/w/raises")
    assert r.status == 500
    assert logged(srv, "LookupError: the application failed before start_response")
    assert re.search(r"MP00010: .*Traceback", srv.log(), re.S)
    # not sent to the client without PythonDebug
    assert b"LookupError" not in r.body


def test_exception_with_python_debug_reaches_the_client(srv):
    r = srv.request("/debug/raises")
    assert r.status == 500 and b"LookupError" in r.body


def test_exception_while_iterating_closes_and_logs(srv):
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    try:
        c.request("GET", "/w/iter_fails")
        r = c.getresponse()
        assert r.status == 200   # the status had gone out
        try:
            body = r.read()
        except http.client.IncompleteRead as e:
            body = e.partial
        assert body.startswith(b"block one;") and b"block two" not in body
    finally:
        c.close()
    assert logged(srv, "wsgi apps: iter_fails closed")
    assert logged(srv, "KeyError: 'failed while iterating'")


def test_generator_is_streamed(srv):
    gate = srv.path("work", "gate-%d" % time.monotonic_ns())
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
    try:
        s.sendall(b"GET /w/stream?%s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                  % gate.encode())
        got = b""
        deadline = time.time() + 8
        while b"first;" not in got and time.time() < deadline:
            got += s.recv(65536)
        # the first block came while the second one waits for the gate
        assert b"first;" in got and b"second" not in got, got
        open(gate, "w").close()
        while True:
            more = s.recv(65536)
            if not more:
                break
            got += more
    finally:
        s.close()
    assert b"second: gate seen" in got
    assert logged(srv, "wsgi apps: stream generator closed")


def test_client_going_away_ends_the_response_quietly(srv):
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
    try:
        s.sendall(b"GET /w/endless HTTP/1.1\r\nHost: x\r\n\r\n")
        got = b""
        while len(got) < 200000:
            got += s.recv(65536)
    finally:
        s.close()
    assert logged(srv, "wsgi apps: endless generator closed", timeout=20)
    assert "endless: never stopped" not in srv.log()
    # not an error of the server: no traceback
    assert "Write failed" not in srv.log(), srv.log()[-3000:]


def test_generator_with_content_length(srv):
    r = srv.request("/w/sized")
    assert r.body == b"abcdefghijkl" and r.headers["Content-Length"] == "12"


def test_concurrent_requests_run_side_by_side(srv):
    if srv.mpm == "prefork":
        pytest.skip("one prefork child serves one request at a time")
    t = time.time()
    with ThreadPoolExecutor(6) as pool:
        bodies = list(pool.map(lambda i: srv.request("/w/slow?0.5").body, range(6)))
    assert time.time() - t < 2.5, "requests were serialised"
    assert len(set(bodies)) == 6


# ------------------------------------------------------------ wsgi.errors

def test_wsgi_errors_lines_reach_the_error_log(srv):
    assert srv.request("/w/errors").body == b"logged"
    assert logged(srv, "wsgi apps: unfinished but flushed at the end")
    for text in ("wsgi apps: one line", "wsgi apps: second line"):
        line = log_lines(srv, text)[-1]
        # at error level, with the request's client, no MP id (the
        # application's own line)
        assert "[python:error]" in line and "[client 127.0.0.1:" in line, line
        assert "MP0" not in line


def test_wsgi_errors_takes_text_only(srv):
    assert srv.request("/w/errors_bytes").body.startswith(b"TypeError: wsgi.errors takes str")


# ------------------------------------------------------------ wsgi.file_wrapper

def test_file_wrapper_sends_a_real_file_without_reading_it(srv):
    r = srv.request("/w/file_real")
    assert r.status == 200 and r.body == DATA
    assert r.headers["Content-Length"] == str(len(DATA))
    # req.sendfile() sent it: Python never read from the file; closed
    assert logged(srv, "wsgi apps: file closed after 0 reads")


def test_file_wrapper_from_the_file_position(srv):
    r = srv.request("/w/file_real?1000")
    assert r.body == DATA[1000:] and r.headers["Content-Length"] == str(len(DATA) - 1000)


def test_file_wrapper_keeps_a_declared_content_length(srv):
    r = srv.request("/w/file_limited")
    assert r.body == DATA[:1000] and r.headers["Content-Length"] == "1000"


def test_file_wrapper_iterates_over_other_objects(srv):
    r = srv.request("/w/file_bytesio")
    assert r.status == 200 and r.body == b"0123456789" * 1000


# ------------------------------------------------------------ reload on edit

ENTRY = """\
import helper

def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [("%s/%s" % (VERSION, helper.VERSION)).encode()]

VERSION = "{v}"
"""


def write(path, text):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def test_editing_the_application_or_its_helper_reloads_it(srv):
    work = srv.path("work")
    write(os.path.join(work, "helper.py"), 'VERSION = "h1"\n')
    write(os.path.join(work, "entry.py"), ENTRY.format(v="e1"))
    assert srv.request("/edit").body == b"e1/h1"
    write(os.path.join(work, "entry.py"), ENTRY.format(v="e2"))
    assert srv.request("/edit").body == b"e2/h1"
    write(os.path.join(work, "helper.py"), 'VERSION = "h22"\n')
    assert srv.request("/edit").body == b"e2/h22"
    # the importer's log: the helper, then the application module above it
    assert logged(srv, "Reimporting module '%s/helper.py'" % work)
    assert logged(srv, "Reimporting module '%s/entry.py'" % work)


def test_edit_under_concurrent_requests(srv):
    work = srv.path("work")
    write(os.path.join(work, "helper.py"), 'VERSION = "c"\n')
    write(os.path.join(work, "entry.py"), ENTRY.format(v="v0"))
    assert srv.request("/edit").body == b"v0/c"
    stop = []

    def hammer(_):
        seen = set()
        while not stop:
            r = srv.request("/edit")
            assert r.status == 200, r
            seen.add(r.body)
        return seen

    with ThreadPoolExecutor(4) as pool:
        futures = [pool.submit(hammer, i) for i in range(4)]
        for i in range(1, 6):
            time.sleep(0.1)
            write(os.path.join(work, "entry.py"), ENTRY.format(v="v%d" % i))
        time.sleep(0.2)
        stop.append(1)
        seen = set().union(*[f.result() for f in futures])
    assert seen <= {b"v%d/c" % i for i in range(6)}, seen
    assert srv.request("/edit").body == b"v5/c"


# ------------------------------------------------------------ mod_python.wsgi.reload On

def test_reload_on_reloads_a_package_on_sys_path(srv):
    part = srv.path("pylib", "wsgipkg", "part.py")
    assert srv.request("/pkg").body == b"r1/p1"
    assert srv.request("/pkgoff").body == b"r1/p1"
    write(part, 'VERSION = "p22"\n')
    try:
        assert srv.request("/pkg").body == b"r1/p22"
        # PythonAutoReload Off: no checks
        assert srv.request("/pkgoff").body == b"r1/p1"
        assert logged(srv, "MP00073: mod_python.wsgi (pid=")
        line = log_lines(srv, "MP00073")[-1]
        assert "interpreter='pkg'): reloading 'wsgipkg.reloadable::app': " in line
        assert "/wsgipkg/part.py changed; 3 modules removed" in line, line
    finally:
        write(part, 'VERSION = "p1"\n')
    assert srv.request("/pkg").body == b"r1/p1"


# An editor saving part.py after the reload read it, before the import
# ended: the signature taken then is the new file's, not the version
# loaded.  part.py rewrites itself while it is imported to make it so.
SAVED_DURING_IMPORT = """import os
VERSION = "p30"
_tmp = __file__ + ".saving"
with open(_tmp, "w") as _f:
    _f.write('VERSION = "p31"\\n')
os.chmod(_tmp, 0o644)
os.replace(_tmp, __file__)
"""


def test_reload_on_a_file_saved_during_the_import_is_not_missed(srv):
    part = srv.path("pylib", "wsgipkg", "part.py")
    pkg = os.path.dirname(part)
    user = pwd.getpwnam(RUN_USER)
    os.chown(pkg, user.pw_uid, user.pw_gid)    # part.py saves itself
    assert srv.request("/pkg").body == b"r1/p1"
    write(part, SAVED_DURING_IMPORT)
    try:
        assert srv.request("/pkg").body == b"r1/p30"
        assert srv.request("/pkg").body == b"r1/p31", "the save during the import was missed"
    finally:
        write(part, 'VERSION = "p1"\n')
        os.chown(pkg, 0, 0)
    assert srv.request("/pkg").body == b"r1/p1"
