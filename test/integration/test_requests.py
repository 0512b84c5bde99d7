"""Handlers, phases, the request API, vhost interpreters and errors against
a real httpd, for each MPM.  The handlers and the configuration they are
served with are in apps/requests/."""
import json
import re

import pytest

from conftest import MPMS
from harness import Httpd, read_file, wait_for


@pytest.fixture(scope="module", params=MPMS)
def srv(request):
    h = Httpd(request.param)
    try:
        h.config(h.install_app("requests"))
        h.start()
        yield h
    finally:
        h.cleanup()


def test_hello(srv):
    r = srv.get("/app/hello")
    assert r.status == 200
    assert r.body == b"Hello, world!\n"
    assert r.headers["Content-Length"] == "14"
    assert r.headers["Content-Type"] == "text/plain"


def test_request_attributes(srv):
    r = srv.get("/app/attrs/extra/path?a=1&b=2", headers={"User-Agent": "pytest-ua"})
    assert r.status == 200, srv.log()
    d = json.loads(r.body)
    assert d["uri"] == "/app/attrs/extra/path"
    assert d["unparsed_uri"] == "/app/attrs/extra/path?a=1&b=2"
    assert d["args"] == "a=1&b=2"
    assert d["method"] == "GET" and d["protocol"] == "HTTP/1.1"
    assert d["hostname"] == "127.0.0.1"
    assert d["filename"] == srv.htdocs + "/app/attrs"
    assert d["path_info"] == "/extra/path"
    assert d["the_request"] == "GET /app/attrs/extra/path?a=1&b=2 HTTP/1.1"
    assert d["user"] is None
    assert d["interpreter"] == "localhost"
    assert d["phase"] == "PythonHandler"
    assert d["useragent_ip"] == "127.0.0.1" and d["client_ip"] == "127.0.0.1"
    assert d["status"] == 200
    assert d["custom"] == {"any": "thing"}
    assert d["document_root"] == srv.htdocs
    assert d["construct_url"] == "http://127.0.0.1:%d/x" % srv.port
    assert d["server"][0] == "localhost"
    assert d["ua"] == "pytest-ua" and d["has_ua"] is True
    assert d["config"]["PythonPath"].startswith("sys.path")
    assert d["options"]["extra"] == srv.root + "/pylib"
    assert "empty" not in d["options"], "an empty PythonOption means unset"
    assert d["apache"][0] == "localhost" and d["apache"][1] == "localhost"
    assert d["apache"][2:7] == [0, -1, -2, 404, 5]
    assert d["apache"][7:] == [True, False, True]


def test_python_path_evaluated_once(srv):
    rs = [srv.get("/app/attrs") for _ in range(10)]
    assert all(r.status == 200 for r in rs), srv.log()
    counts = {json.loads(r.body)["path_count"] for r in rs}
    assert counts == {1}, "sys.path grew: %r" % counts


def test_tables(srv):
    r = srv.get("/app/tables")
    assert r.status == 200, srv.log()
    assert r.body == b"v v"
    assert r.headers.get_all("X-Multi") == ["a", "b"]
    assert r.headers["X-Err"] == "e" and r.headers["X-Two"] == "2"
    assert "X-One" not in r.headers and "Injected" not in r.headers


def test_request_body(srv):
    body = b"first line\nsecond\nthird\n"
    r = srv.request("/app/body", method="POST", body=body)
    assert r.status == 200, srv.log()
    assert r.body == b"11|first line|2|0"


def test_stacked_handlers(srv):
    assert srv.get("/app/stack").body == b"one;two;method;"
    # DECLINED stops a content handler chain (only OK goes on)
    r = srv.get("/app/stackdecline")
    assert r.body.startswith(b"one;decline;") and b"two;" not in r.body


def test_phases_in_order(srv):
    r = srv.get("/phases/index.txt", headers={"Authorization": "Basic YWxpY2U6eA=="})
    assert r.status == 200, srv.log()
    phases, user, ctype = r.text.split("|")
    assert phases == "init,headerparser,access,authen,authz,type,fixup,handler,"
    assert user == "alice" and ctype == "text/x-python-typed"
    assert srv.get("/phases/index.txt?deny").status == 403
    log = srv.path("logs", "phases.log")
    assert wait_for(lambda: "log:/phases/index.txt" in read_file(log))
    assert wait_for(lambda: "cleanup:/phases/index.txt" in read_file(log))


def test_trans_handler(srv):
    r = srv.get("/translated/anything")
    assert r.status == 200 and r.body == b"static file\n"


def test_handler_raises(srv):
    r = srv.get("/app/raises")
    assert r.status == 500
    assert b"boom" not in r.body, "traceback leaked without PythonDebug"
    log = srv.log()
    assert re.search(r"PythonHandler errors::raises: .*ValueError: <b>boom</b> & co", log)
    assert "PythonHandler errors::raises: Traceback (most recent call last):" in log


def test_handler_raises_debug(srv):
    r = srv.get("/app/debugraises")
    assert r.status == 500
    assert b"&lt;b&gt;boom&lt;/b&gt; &amp; co" in r.body
    assert b"<b>boom" not in r.body
    assert b'Mod_python error: "PythonHandler errors::raises"' in r.body


def test_handler_results(srv):
    assert srv.get("/app/notint").status == 500
    assert "returned 'nope', not an int" in srv.log()
    assert srv.get("/app/sr").status == 403
    r = srv.get("/app/srstatus")
    assert r.status == 202 and r.body == b"partial"
    assert srv.get("/app/notfound").status == 404


def test_misc_methods(srv):
    r = srv.get("/app/misc")
    assert r.status == 200, srv.log()
    assert r.body == b"\nimport os|sent 10"
    assert "misc handler says hi" in srv.log()
    log = srv.path("logs", "phases.log")
    assert wait_for(lambda: "registered cleanup ran" in read_file(log))
    assert srv.get("/app/redirect").body == b"Hello, world!\n"
    assert srv.get("/app/add").body == b"first;two;"


def test_write_arguments(srv):
    """str goes out as UTF-8, any bytes-like object as it is; wrong types
    and counts raise instead of writing."""
    r = srv.get("/app/writeargs")
    assert r.status == 200, srv.log()
    assert r.body == "\u20ac|b|ba|mv|refused 6".encode()


def test_handler_from_module_getattr(srv):
    assert srv.get("/app/dynamic").body == b"dynamic"


def test_bad_attribute_values_refused(srv):
    r = srv.get("/app/badattrs")
    assert r.status == 200 and r.body == b"all refused", r.body


def test_vhost_interpreters_isolated(srv):
    for _ in range(3):
        a = srv.get("/x", host="a.test").text.split()
        b = srv.get("/x", host="b.test").text.split()
        assert a[:2] == ["a.test", "a"], a
        assert b[:2] == ["b.test", "b"], b
        assert a[2] != b[2]


def test_interpreter_selection(srv):
    assert srv.get("/interp/which").text == srv.htdocs + "/interp/"
    assert srv.get("/interp/x/page.txt").text == srv.htdocs + "/interp/x/"
    assert srv.get("/named").text == "my_named_interp"
