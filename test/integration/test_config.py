"""A malformed directive fails `httpd -t` with a message naming it and the
line; run-time-only errors are logged and the server keeps serving."""
import pytest

BAD = [
    ("PythonHandler", "PythonHandler", "requires at least one"),
    ("PythonHandler mod::", "PythonHandler", "invalid handler 'mod::'"),
    ("PythonHandler ::obj", "PythonHandler", "invalid handler"),
    ("PythonHandler mod::1x", "PythonHandler", "invalid handler"),
    ("PythonHandler a.b..c", "PythonHandler", "invalid handler"),
    ("PythonHandler mod | txt", "PythonHandler", "'txt' is not an extension"),
    ("PythonHandler mod |", "PythonHandler", "no extension after '|'"),
    ("PythonAccessHandler", "PythonAccessHandler", "requires at least one"),
    ("PythonFixupHandler m::x.", "PythonFixupHandler", "invalid handler"),
    ("PythonTransHandler mod | .py", "PythonTransHandler", "not allowed here"),
    ("PythonDebug maybe", "PythonDebug", "must be On or Off"),
    ("PythonAutoReload", "PythonAutoReload", "must be On or Off"),
    ("PythonInterpPerDirectory 1", "PythonInterpPerDirectory", "must be On or Off"),
    ("PythonInterpPerDirective yes", "PythonInterpPerDirective", "must be On or Off"),
    ("PythonInterpreter", "PythonInterpreter", "takes one argument"),
    ("PythonInterpreter a b", "PythonInterpreter", "takes one argument"),
    ('PythonInterpreter ""', "PythonInterpreter", "takes one argument"),
    ("PythonPath", "PythonPath", "takes one argument"),
    ("PythonOption", "PythonOption", "takes 1-2 arguments"),
    ("PythonOption a b c", "PythonOption", "takes 1-2 arguments"),
    ("PythonImport mod", "PythonImport", "takes two arguments"),
    ("PythonImport mod:: interp", "PythonImport", "invalid module"),
    ("PythonImport mod interp extra", "PythonImport", "takes two arguments"),
    ("PythonHome relative/path", "PythonHome", "absolute path"),
    ("PythonInterpLimit 0", "PythonInterpLimit", "not a number from 1 to 100000"),
    ("PythonInterpLimit 100001", "PythonInterpLimit", "not a number from 1 to 100000"),
    ("PythonInterpLimit 99999999999999999999", "PythonInterpLimit", "not a number"),
    ("PythonInterpLimit 8x", "PythonInterpLimit", "not a number from 1 to 100000"),
    ("PythonInterpLimit", "PythonInterpLimit", "takes one argument"),
]


@pytest.mark.parametrize("line,directive,message", BAD)
def test_bad_directive_fails_configtest(httpd_factory, line, directive, message):
    h = httpd_factory("event")
    h.config("# filler\n" + line + "\n")
    ok, out = h.configtest()
    assert not ok, out
    lineno = open(h.conf).read().splitlines().index(line) + 1
    assert "line %d" % lineno in out, out
    assert directive in out and message in out, out


@pytest.mark.parametrize("line", [
    "PythonTransHandler mod",  # server-only directive inside a directory
    "PythonImport mod interp",
    "PythonHome /usr",
    "PythonInterpLimit 8",
])
def test_server_only_directives_refused_in_directory(httpd_factory, line):
    h = httpd_factory("event")
    h.config("<Directory /tmp>\n%s\n</Directory>\n" % line)
    ok, out = h.configtest()
    assert not ok and "not allowed" in out, out


def test_good_config_passes(httpd_factory):
    h = httpd_factory("event")
    h.config("""
        PythonPath "sys.path + ['/nonexistent']"
        PythonImport mod_python.apache::freeze_modules other
        PythonOption key value
        PythonOption unset
        <Directory /tmp>
            PythonHandler a b::c c::d.e | .py .txt
            PythonDebug On
            PythonAutoReload Off
            PythonInterpreter x
            PythonInterpPerDirectory On
            PythonInterpPerDirective Off
            PythonHeaderParserHandler /abs/file.py::x ~/rel ./x
        </Directory>
    """)
    ok, out = h.configtest()
    assert ok, out


def test_runtime_errors_are_logged_and_server_keeps_serving(httpd_factory):
    h = httpd_factory("event")
    h.write("htdocs/ok.py", """
        def handler(req):
            req.write("fine")
            return 0
    """)
    h.config("""
        PythonImport no_such_module_anywhere localhost
        PythonImport mod_python.apache::no_such_function localhost
        <Directory {d}>
            SetHandler mod_python
            PythonHandler ok
        </Directory>
        <Location /badpath>
            SetHandler mod_python
            PythonPath "'not a list'"
            PythonHandler ok
        </Location>
        <Location /missing>
            SetHandler mod_python
            PythonHandler no_such_handler_module
        </Location>
    """.format(d=h.htdocs))
    h.start()
    assert h.get("/x").body == b"fine"
    assert h.get("/badpath").status == 500
    assert h.get("/missing").status == 500
    assert h.get("/x").body == b"fine"
    log = h.log()
    assert "PythonPath must evaluate to a list" in log
    assert "ModuleNotFoundError: No module named 'no_such_module_anywhere'" in log
    assert "AttributeError" in log and "no_such_function" in log
    assert "PythonHandler no_such_handler_module" in log


def test_broken_python_install_is_a_500_not_a_crash(httpd_factory):
    """If mod_python.apache cannot be imported, requests get a 500, the
    reason is logged once, and no interpreter is made per request."""
    h = httpd_factory("event")
    with open(h.path("lib", "mod_python", "apache.py"), "a") as f:
        f.write("\nraise ImportError('broken install')\n")
    h.write("htdocs/ok.py", "def handler(req):\n    return 0\n")
    h.config("""
        <Directory {d}>
            SetHandler mod_python
            PythonHandler ok
        </Directory>
    """.format(d=h.htdocs))
    h.start()
    for _ in range(5):
        assert h.get("/x").status == 500
    log = h.log()
    assert log.count("cannot set up the interpreter in interpreter 'localhost'") == 1, log
    assert "ImportError: broken install" in log
    assert log.count("failed to start (see the first error)") == 5
    assert "exit signal" not in log
