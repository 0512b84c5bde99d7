"""Handlers, phases, the request API, vhost interpreters and errors against
a real httpd, for each MPM."""
import json
import re

import pytest

from conftest import MPMS
from harness import Httpd, read_file, wait_for

APP = {
    "htdocs/app/hello.py": """
        from mod_python import apache
        def handler(req):
            req.content_type = "text/plain"
            body = b"Hello, world!\\n"
            req.set_content_length(len(body))
            req.write(body)
            return apache.OK
    """,
    "htdocs/app/attrs.py": """
        import json, sys
        from mod_python import apache
        def handler(req):
            req.custom = {"any": "thing"}
            d = {a: getattr(req, a) for a in (
                "uri", "unparsed_uri", "args", "method", "protocol", "hostname",
                "filename", "path_info", "the_request", "user", "interpreter",
                "phase", "useragent_ip", "status")}
            d["custom"] = req.custom
            d["document_root"] = req.document_root()
            d["construct_url"] = req.construct_url("/x")
            d["server"] = [req.server.server_hostname, req.server.port]
            d["client_ip"] = req.connection.client_ip
            d["ua"] = req.headers_in.get("USER-AGENT")
            d["has_ua"] = "user-agent" in req.headers_in
            d["config"] = dict(req.get_config().items())
            d["options"] = dict(req.get_options().items())
            d["apache"] = [apache.interpreter, apache.main_server.server_hostname,
                           apache.OK, apache.DECLINED, apache.DONE, apache.HTTP_NOT_FOUND,
                           apache.APLOG_NOTICE, apache.mpm_query(apache.AP_MPMQ_IS_THREADED) >= 0,
                           apache.exists_config_define("NO_SUCH_DEFINE"),
                           bool(apache.server_root())]
            d["path_count"] = sys.path.count(req.get_options()["extra"])
            req.content_type = "application/json"
            req.write(json.dumps(d))
            return apache.OK
    """,
    "htdocs/app/tables.py": """
        from mod_python import apache
        def handler(req):
            req.headers_out["X-One"] = "1"
            req.headers_out.add("X-Multi", "a")
            req.headers_out.add("X-Multi", "b")
            req.err_headers_out["X-Err"] = "e"
            t = apache.table({"a": "1"})
            t.add("A", "2")
            assert t["a"] == ["1", "2"] and len(t) == 2 and "A" in t
            assert sorted(t.keys()) == ["A", "a"]
            assert req.headers_out.get("x-multi") == ["a", "b"]
            del req.headers_out["x-one"]
            req.headers_out["X-Two"] = "2"
            try:
                req.headers_out["X-Bad"] = "a\\r\\nInjected: yes"
                return apache.HTTP_INTERNAL_SERVER_ERROR
            except ValueError:
                pass
            req.notes["n"] = "v"
            req.subprocess_env["E"] = "v"
            req.content_type = "text/plain"
            req.write("%s %s" % (req.notes["n"], req.subprocess_env.get("E")))
            return apache.OK
    """,
    "htdocs/app/body.py": """
        from mod_python import apache
        def handler(req):
            first = req.readline()
            rest = req.readlines()
            more = req.read()
            req.content_type = "text/plain"
            req.write(b"%d|%s|%d|%d" % (len(first), first.strip(), len(rest), len(more)))
            return apache.OK
    """,
    "htdocs/app/stack.py": """
        from mod_python import apache
        def one(req):
            req.content_type = "text/plain"
            req.write("one;")
            return apache.OK
        def two(req):
            req.write("two;")
            return apache.OK
        def decline(req):
            req.write("decline;")
            return apache.DECLINED
        class Obj:
            def method(self, req):
                req.write("method;")
                return apache.OK
        obj = Obj()
    """,
    "htdocs/app/errors.py": """
        from mod_python import apache
        def raises(req):
            raise ValueError("<b>boom</b> & co")
        def notint(req):
            return "nope"
        def server_return(req):
            raise apache.SERVER_RETURN(apache.HTTP_FORBIDDEN)
        def server_return_status(req):
            req.content_type = "text/plain"
            req.write("partial", 0)
            raise apache.SERVER_RETURN((apache.OK, 202))
        def notfound(req):
            return apache.HTTP_NOT_FOUND
    """,
    "htdocs/phases/phases.py": """
        import os
        from mod_python import apache
        def record(req, what):
            notes = req.notes.get("phases", "")
            req.notes["phases"] = notes + what + ","
        def postreadrequesthandler(req):
            record(req, "postread")
            return apache.DECLINED
        def inithandler(req):
            record(req, "init")
            return apache.OK
        def headerparserhandler(req):
            record(req, "headerparser")
            return apache.OK
        def accesshandler(req):
            record(req, "access")
            if req.args == "deny":
                return apache.HTTP_FORBIDDEN
            return apache.OK
        def authenhandler(req):
            record(req, "authen")
            req.user = "alice"
            return apache.OK
        def authzhandler(req):
            record(req, "authz")
            return apache.OK
        def typehandler(req):
            record(req, "type")
            req.content_type = "text/x-python-typed"
            return apache.OK
        def fixuphandler(req):
            record(req, "fixup")
            return apache.OK
        def handler(req):
            record(req, "handler")
            req.write(req.notes["phases"] + "|" + req.user + "|" + req.content_type)
            return apache.OK
        def loghandler(req):
            with open(req.get_options()["logfile"], "a") as f:
                f.write("log:" + req.uri + "\\n")
            return apache.OK
        def cleanuphandler(req):
            with open(req.get_options()["logfile"], "a") as f:
                f.write("cleanup:" + req.uri + "\\n")
            return apache.OK
    """,
    "htdocs/app/misc.py": """
        import os
        from mod_python import apache
        def cleanup(data):
            with open(data, "a") as f:
                f.write("registered cleanup ran\\n")
        def handler(req):
            req.register_cleanup(cleanup, req.get_options()["logfile"])
            req.content_type = "text/plain"
            n = req.sendfile(__file__, 0, 10)
            req.write("|sent %d" % n)
            req.log_error("misc handler says hi", apache.APLOG_ERR)
            return apache.OK
        def redirect(req):
            req.internal_redirect("/app/hello")
            return apache.OK
        def add(req):
            req.content_type = "text/plain"
            req.write("first;")
            req.add_handler("PythonHandler", "stack::two", os.path.dirname(__file__))
            return apache.OK
        def bad_attrs(req):
            errors = []
            for attr, value in (("status", "x"), ("status", 5), ("uri", 5),
                                ("content_type", "a\\nb"), ("method", "PUT"),
                                ("user", "\\ud800")):
                try:
                    setattr(req, attr, value)
                    errors.append("accepted %s=%r" % (attr, value))
                except (TypeError, ValueError, AttributeError):
                    pass
            req.content_type = "text/plain"
            req.write(";".join(errors) or "all refused")
            return apache.OK
        def write_args(req):
            req.content_type = "text/plain"
            refused = 0
            for call in (lambda: req.write(5), lambda: req.write(), lambda: req.write("a", 0, 1),
                         lambda: req.write("a", "x"), lambda: req.set_content_length("5"),
                         lambda: req.set_content_length(-1)):
                try:
                    call()
                except (TypeError, ValueError):
                    refused += 1
            req.write("\u20ac|", 0)
            req.write(b"b|", 1)
            req.write(bytearray(b"ba|"), False)
            req.write(memoryview(b"mv|"))
            req.write("")
            req.write("refused %d" % refused)
            return apache.OK
        def __getattr__(name):
            # a module-level __getattr__ (PEP 562) still supplies handlers
            if name == "dynamic":
                def dynamic(req):
                    req.content_type = "text/plain"
                    req.write("dynamic")
                    return apache.OK
                return dynamic
            raise AttributeError(name)
    """,
    "trans.py": """
        from mod_python import apache
        def transhandler(req):
            if req.uri.startswith("/translated/"):
                req.filename = req.document_root() + "/app/static.txt"
                return apache.OK
            return apache.DECLINED
    """,
    "htdocs/app/static.txt": "static file\n",
    "htdocs/vhosts/a/who.py": """
        import shared_state
        shared_state.owner = "a"
        from mod_python import apache
        def handler(req):
            req.content_type = "text/plain"
            req.write("%s %s %s" % (req.interpreter, shared_state.owner, __file__))
            return apache.OK
    """,
    "htdocs/vhosts/b/who.py": """
        import shared_state
        shared_state.owner = "b"
        from mod_python import apache
        def handler(req):
            req.content_type = "text/plain"
            req.write("%s %s %s" % (req.interpreter, shared_state.owner, __file__))
            return apache.OK
    """,
    "pylib/shared_state.py": "owner = None\n",
    "htdocs/interp/x/page.txt": "x\n",
    "htdocs/interp/which.py": """
        from mod_python import apache
        def handler(req):
            req.content_type = "text/plain"
            req.write(req.interpreter)
            return apache.OK
    """,
}

CONF = """
PythonPath "sys.path + ['{root}/pylib']"
PythonTransHandler trans
PythonOption mod_python.importer.path "['{root}']"
<Directory {htdocs}/app>
    SetHandler mod_python
    PythonOption extra {root}/pylib
    PythonOption empty
    PythonOption logfile {root}/logs/phases.log
    PythonHandler hello
    <Files attrs>
        PythonHandler attrs
    </Files>
    <Files tables>
        PythonHandler tables
    </Files>
    <Files body>
        PythonHandler body
    </Files>
    <Files stack>
        PythonHandler stack::one stack::two
        PythonHandler stack::obj.method
    </Files>
    <Files stackdecline>
        PythonHandler stack::one stack::decline stack::two
    </Files>
    <Files static.txt>
        SetHandler none
    </Files>
    <Files raises>
        PythonHandler errors::raises
    </Files>
    <Files debugraises>
        PythonDebug On
        PythonHandler errors::raises
    </Files>
    <Files notint>
        PythonHandler errors::notint
    </Files>
    <Files sr>
        PythonHandler errors::server_return
    </Files>
    <Files srstatus>
        PythonHandler errors::server_return_status
    </Files>
    <Files notfound>
        PythonHandler errors::notfound
    </Files>
    <Files misc>
        PythonHandler misc
    </Files>
    <Files redirect>
        PythonHandler misc::redirect
    </Files>
    <Files add>
        PythonHandler misc::add
    </Files>
    <Files badattrs>
        PythonHandler misc::bad_attrs
    </Files>
    <Files writeargs>
        PythonHandler misc::write_args
    </Files>
    <Files dynamic>
        PythonHandler misc::dynamic
    </Files>
</Directory>
<Directory {htdocs}/phases>
    SetHandler mod_python
    PythonOption logfile {root}/logs/phases.log
    AuthType Basic
    AuthName "test"
    Require valid-user
    PythonInitHandler phases
    PythonHeaderParserHandler phases
    PythonAccessHandler phases
    PythonAuthenHandler phases
    PythonAuthzHandler phases
    PythonTypeHandler phases
    PythonFixupHandler phases
    PythonHandler phases
    PythonLogHandler phases
    PythonCleanupHandler phases
</Directory>
<Directory {htdocs}/interp>
    SetHandler mod_python
    PythonHandler which
    PythonInterpPerDirective On
</Directory>
<Directory {htdocs}/interp/x>
    PythonInterpPerDirective Off
    PythonInterpPerDirectory On
</Directory>
<Location /named>
    SetHandler mod_python
    PythonInterpreter my_named_interp
    PythonHandler {htdocs}/interp/which.py
</Location>
<VirtualHost 127.0.0.1:{port}>
    ServerName localhost
    DocumentRoot {htdocs}
</VirtualHost>
<VirtualHost 127.0.0.1:{port}>
    ServerName a.test
    DocumentRoot {htdocs}/vhosts/a
    <Directory {htdocs}/vhosts/a>
        SetHandler mod_python
        PythonHandler who
    </Directory>
</VirtualHost>
<VirtualHost 127.0.0.1:{port}>
    ServerName b.test
    DocumentRoot {htdocs}/vhosts/b
    <Directory {htdocs}/vhosts/b>
        SetHandler mod_python
        PythonHandler who
    </Directory>
</VirtualHost>
"""


@pytest.fixture(scope="module", params=MPMS)
def srv(request):
    h = Httpd(request.param)
    try:
        for path, text in APP.items():
            h.write(path, text)
        h.write("htdocs/phases/index.txt", "x\n")
        h.config(CONF.format(root=h.root, htdocs=h.htdocs, port=h.port))
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
