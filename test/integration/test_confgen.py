"""mod_python.httpdconf and mod_python.testhandler as mod_python 3.5
applications use them.

httpdconf: the text of directives, sections, containers and comments
(str() is httpd.conf, repr() is Python building the same tree), checked
against expected strings and, where mod_python 3.5 is installed
(libapache2-mod-python, which imports outside httpd), against 3.5's own
output for the same input; write_basic_config's script, and a real httpd
(event and prefork) started from the configuration it prints, serving a
handler as www-data.

testhandler: the diagnostic page under event and prefork: its sections,
the form, the configuration tree, every value HTML-escaped (a <script> in
the query string, a header, the configuration), the error log's tail.
The app is apps/confgen/.
"""
import json
import os
import re
import subprocess
import sys
import textwrap

import pytest

from conftest import MPMS
from harness import ROOT, RUN_USER, Httpd, one_child, python_home_line, read_file, wait_for

LIB = os.path.join(ROOT, "lib", "python")
sys.path.insert(0, LIB)
import mod_python.version  # noqa: E402  (this build's, from lib/python)
from mod_python import httpdconf  # noqa: E402
from mod_python.httpdconf import (  # noqa: E402
    Comment, Container, ContainerTag, Directive, Directory, Files, IfModule,
    Listen, Location, LockFile, LogFormat, PythonDebug, PythonHandler,
    PythonInterpPerDirectory, PythonPath, Require, ServerName, SetHandler,
    VirtualHost)

MPM_PARAMS = [m for m in ("event", "prefork") if m in MPMS]
# mod_python 3.5's package, where Debian's libapache2-mod-python puts it.
DIST = "/usr/lib/python3/dist-packages"
HAVE_35 = os.path.isfile(os.path.join(DIST, "mod_python", "httpdconf.py"))
need_35 = pytest.mark.skipif(not HAVE_35, reason="mod_python 3.5 is not installed")


def run_python(code, ours, cwd="/tmp"):
    """Run `code` with /usr/bin/python3 and our mod_python (ours) or 3.5's
    (isolated mode: no PYTHONPATH, so dist-packages' mod_python): stdout."""
    if ours:
        args, env = [sys.executable, "-c", code], {"PYTHONPATH": LIB, "PATH": "/usr/bin:/bin"}
    else:
        args, env = ["/usr/bin/python3", "-I", "-c", code], {"PATH": "/usr/bin:/bin"}
    r = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return r.stdout


# ------------------------------------------------------------ httpdconf text

def test_we_test_our_module():
    assert httpdconf.__file__ == os.path.join(LIB, "mod_python", "httpdconf.py")


def test_directive_text():
    d = Directive("Listen", "127.0.0.1:80")
    assert str(d) == "Listen 127.0.0.1:80\n"
    assert repr(d) == "Listen('127.0.0.1:80')"
    d.indent = 3
    assert str(d) == "   Listen 127.0.0.1:80\n"
    # Windows paths: backslashes become slashes, except where told not to
    assert str(Directive("DocumentRoot", r"C:\www")) == "DocumentRoot C:/www\n"
    assert repr(Directive("DocumentRoot", r"C:\www")) == "DocumentRoot('C://www')"
    assert str(Directive("X", r"a\b", flipslash=0)) == "X a\\b\n"
    assert str(LogFormat(r'"%h \"%r\"" combined')) == 'LogFormat "%h \\"%r\\"" combined\n'
    assert str(PythonPath(r"sys.path+['C:\\x']")) == "PythonPath sys.path+['C:\\\\x']\n"
    # named after their class; 3.5's defaults
    assert str(PythonHandler("mod_python.publisher")) == "PythonHandler mod_python.publisher\n"
    assert str(PythonInterpPerDirectory()) == "PythonInterpPerDirectory Off\n"
    assert isinstance(SetHandler("x"), Directive)
    assert str(LockFile("logs/accept.lock")) == "LockFile logs/accept.lock\n"


def test_sections_and_containers_text():
    tree = Container(
        Comment("\nTop\nsecond\n"),
        Listen("8080"),
        VirtualHost("*:8080",
                    ServerName("www.example.com"),
                    Directory(r"C:\www\app",
                              SetHandler("mod_python"),
                              PythonHandler("hello"),
                              Files("*.pyc", Require("all denied")),
                              Comment("inner")),
                    Location("/x", PythonDebug("On")),
                    IfModule("mod_ssl.c")),
        Container(Listen("1"), only_if="1 == 0"),
        Container(Listen("2"), only_if="mod_python.version.HTTPD_VERSION[0:3] == '2.4'"),
    )
    assert str(tree) == textwrap.dedent("""\
        # 
        # Top
        # second
        Listen 8080
        <VirtualHost *:8080>
          ServerName www.example.com
          <Directory C:/www/app>
            SetHandler mod_python
            PythonHandler hello
            <Files *.pyc>
              Require all denied
            </Files>
            # inner
          </Directory>
          <Location /x>
            PythonDebug On
          </Location>
          <IfModule mod_ssl.c>
          </IfModule>
        </VirtualHost>
        Listen 2
        """)
    assert repr(tree) == textwrap.dedent("""\
        Container(
            Comment('\\n'
                    'Top\\n'
                    'second\\n'),
            Listen('8080'),
            VirtualHost('*:8080',
                ServerName('www.example.com'),
                Directory('C://www//app',
                    SetHandler('mod_python'),
                    PythonHandler('hello'),
                    Files('*.pyc',
                        Require('all denied'),
                    ),
                    Comment('inner\\n'),
                ),
                Location('/x',
                    PythonDebug('On'),
                ),
                IfModule('mod_ssl.c',
                ),
            ),
            Container(
                Listen('1'),
                only_if='1 == 0'),
            Container(
                Listen('2'),
                only_if="mod_python.version.HTTPD_VERSION[0:3] == '2.4'"),
        )""")
    # repr() is the Python of the same configuration
    again = eval(repr(tree), vars(httpdconf))
    # (a backslash, doubled by repr(), comes back as two slashes, as in 3.5)
    assert str(again) == str(tree).replace("C:/www/app", "C://www//app")


def test_container_tag_and_append():
    t = ContainerTag("Foo", r"a\b", (Listen("1"),), flipslash=0)
    assert str(t) == "<Foo a\\b>\n  Listen 1\n</Foo>\n"
    c = Container()
    c.append(Listen("80"))
    c.append(Container(Comment("x")))
    assert str(c) == "Listen 80\n# x\n"
    with pytest.raises(TypeError):
        c.append("Listen 80")
    with pytest.raises(TypeError):
        Container("Listen 80")
    d = Directory("/srv")
    d.append(SetHandler("mod_python"))
    assert str(d) == "<Directory /srv>\n  SetHandler mod_python\n</Directory>\n"


SAMPLE = r'''
import json, sys
from mod_python.httpdconf import *
c = Container(
    Comment("\nTop comment\nsecond line\n\n"),
    Listen("127.0.0.1:8080"), LoadModule(r"python_module C:\Apache\mod_python.so"),
    LogFormat(r'"%h \"%r\"" combined'), PythonPath(r"sys.path+['C:\\x']"),
    PythonInterpPerDirectory(), PythonInterpPerDirective("On"), LockFile("logs/a.lock"),
    Container(MaxConnectionsPerChild("65536"), only_if="mod_python is not None"),
    Container(MaxRequestsPerChild("65536"), only_if="1 == 0"),
    VirtualHost("*:80", ServerName("www.example.com"),
        Directory(r"C:\www\app", SetHandler("mod_python"), PythonHandler("mod_python.publisher"),
            Files("*.py", Require("all denied")), Comment("inner\ncomment")),
        Location("/x", PythonDebug("On"), AddHandler("mod_python .py"), PythonOption("a b")),
        IfModule("mod_ssl.c")),
    Directive("Custom", "a\\b"), Directive("NoFlip", "a\\b", flipslash=0),
    ContainerTag("Foo", r"a\b", (Listen("1"),), flipslash=0),
    Comment("one"),
)
c.args[-1].indent = 5
named = Container(*c.args[:-4])
json.dump({"str": str(c), "repr": repr(c), "again": str(eval(repr(named)))}, sys.stdout)
'''


@need_35
def test_same_text_as_35():
    ours, theirs = (json.loads(run_python(SAMPLE, ours=o)) for o in (True, False))
    assert ours == theirs
    assert "<Directory C:/www/app>" in ours["str"]


WRITE = r'''
import os, sys
from mod_python import httpdconf
p = httpdconf.write_basic_config(sys.argv[1], listen="127.0.0.1:9999",
    pythonpath=["/a/b", "/c d"], pythonoptions=["x y", "z"],
    mp_comments=["hello\nworld"], replace_config=True)
sys.stdout.write(open(p).read())
'''


def write_script(root, ours):
    code = WRITE.replace("sys.argv[1]", repr(root))
    return run_python(code, ours=ours)


@need_35
def test_write_basic_config_as_35(tmp_path):
    """The same script as 3.5's, but for two things a working httpd 2.4
    configuration needs: the MPM's LoadModule, and no LoadModule of a
    module whose file is not there (built into httpd, as Debian's
    log_config, unixd and version are)."""
    ours = write_script(str(tmp_path / "ours"), ours=True)
    theirs = write_script(str(tmp_path / "ours"), ours=False)
    modpath = mod_python.version.LIBEXECDIR

    def missing(line):
        m = re.match(r"\s*LoadModule\('\w+ (\S+)'\),$", line)
        return m and not os.path.isfile(m.group(1))

    expected = [l for l in theirs.splitlines() if not missing(l)]
    mpm = "        LoadModule('mpm_event_module %s/mod_mpm_event.so')," % modpath
    expected.insert(expected.index("        LoadModule('authn_file_module %s/mod_authn_file.so'),"
                                   % modpath), mpm)
    assert ours.splitlines() == expected
    assert "from mod_python.httpdconf import *\n\nconfig = Container(" in ours


def test_write_basic_config_keeps_an_existing_script(tmp_path, capsys):
    root = str(tmp_path / "srv")
    p = httpdconf.write_basic_config(root)
    assert p == os.path.join(root, "conf", "httpd_conf.py")
    for d in ("public", "conf", "logs"):
        assert os.path.isdir(os.path.join(root, d))
    assert os.path.isfile(os.path.join(root, "conf", "mime.types"))
    with open(p, "a") as f:
        f.write("# mine\n")
    assert httpdconf.write_basic_config(root) is None
    assert "already exists, aborting" in capsys.readouterr().err
    assert open(p).read().endswith("# mine\n")
    assert httpdconf.write_basic_config(root, replace_config=True) == p
    assert not open(p).read().endswith("# mine\n")


def test_generated_script_prints_the_configuration(tmp_path):
    root = str(tmp_path / "srv")
    p = httpdconf.write_basic_config(root, listen="127.0.0.1:8123", user="www-data",
                                     group="www-data", mod_python_so="/x y/mod_python.so")
    text = run_python(open(p).read(), ours=True)
    assert text.startswith("# \n# This config was auto-generated, do not edit!\n# \n")
    lines = text.splitlines()
    for line in ("ServerRoot " + root, "Listen 127.0.0.1:8123", "User www-data",
                 "Group www-data", 'LoadModule python_module "/x y/mod_python.so"',
                 "SetHandler mod_python", "# PythonDebug On",
                 "PythonHandler mod_python.publisher", "MaxConnectionsPerChild 65536",
                 "TypesConfig conf/mime.types", "DocumentRoot %s/public" % root):
        assert line in lines
    assert "MaxRequestsPerChild 65536" not in lines   # httpd 2.4: only_if
    assert not [l for l in lines if l.startswith("LockFile")]


# ------------------------------------------------------------ a generated configuration

def generated_server(mpm, pythonhandler, **kw):
    """An httpd started from what write_basic_config's script prints: our
    module (the build's), children as the test user, public/ (with
    apps/confgen/public/hello.py) on the PythonPath."""
    h = Httpd(mpm)
    try:
        h.install_app("confgen")   # public/hello.py (its httpd.conf is unused)
        so = os.environ.get("MP_MODULE") or mod_python.version.TEST_MOD_PYTHON_SO
        script = httpdconf.write_basic_config(
            h.root, listen="127.0.0.1:%d" % h.port, pythonhandler=pythonhandler,
            pythonpath=[h.path("public")], mpm=mpm, mod_python_so=so,
            user=RUN_USER, group=RUN_USER, **kw)
        h.conf = h.path("conf", "httpd.conf")
        with open(h.conf, "w") as f:
            f.write(run_python(open(script).read(), ours=True) + python_home_line())
        h.pidfile = h.path("logs", "httpd.pid")
        h.error_log = h.path("logs", "error_log")
        ok, out = h.configtest()
        assert ok, out
        h.start()
    except Exception:
        h.cleanup()
        raise
    return h


@pytest.mark.parametrize("mpm", MPM_PARAMS)
def test_generated_config_serves_a_handler(mpm):
    h = generated_server(mpm, "hello", pythonoptions=["greeting <hi>", "other value"],
                         mp_comments=["from test_confgen"])
    try:
        with open(h.conf) as f:
            conf = f.read()
        assert "LoadModule mpm_%s_module" % mpm in conf
        assert "# from test_confgen" in conf
        for uri in ("/", "/some/where.html"):
            r = h.get(uri)
            assert r.status == 200, (r, h.log())
            assert r.headers["Content-Type"] == "application/json"
            d = json.loads(r.body)
            assert d["uri"] == uri
            assert d["options"] == {"greeting": "<hi>", "other": "value"}
            assert d["user"] == RUN_USER
            assert d["file"] == h.path("public", "hello.py")
            assert d["in_path"] == [h.path("public")]
            assert d["threaded"] == (mpm != "prefork")
        # the log phase runs after the response
        access = h.path("logs", "access_log")
        assert wait_for(lambda: '"GET /some/where.html HTTP/1.1" 200' in read_file(access))
        assert "Traceback" not in h.log() and ":error]" not in h.log()
    finally:
        h.cleanup()


def test_generated_config_serves_the_testhandler():
    h = generated_server(MPM_PARAMS[0], "mod_python.testhandler")
    try:
        r = h.get("/anything?x=1")
        assert r.status == 200, (r, h.log())
        assert "<h3>General information</h3>" in r.text
        assert "SetHandler mod_python" in r.text   # the configuration tree
    finally:
        h.cleanup()


# ------------------------------------------------------------ testhandler

@pytest.fixture(scope="module", params=MPM_PARAMS)
def srv(request):
    h = Httpd(request.param)
    try:
        h.config(h.install_app("confgen"), mpm_settings=one_child(request.param))
        h.start()
    except Exception:
        h.cleanup()
        raise
    try:
        yield h
    finally:
        h.cleanup()


SECTIONS = ("General information", "Request", "Form fields", "Request input headers",
            "Request environment", "Request configuration", "Request options",
            "Request notes", "Server configuration", "Server options",
            "Server configuration tree")


def cell(page, label):
    """The value cell of the row whose label is `label`."""
    m = re.search(r"<tr><td><code>%s</code></td><td>(.*?)</td></tr>" % re.escape(label),
                  page, re.S)
    assert m, label
    return m.group(1)


def test_page_sections(srv):
    r = srv.get("/test/x?a=1")
    assert r.status == 200, (r, srv.log())
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    page = r.text
    assert page.startswith("<html><head><title>mod_python test page</title>")
    assert page.endswith("</body></html>")
    for title in SECTIONS:
        assert "<h3>%s</h3>" % title in page
    assert cell(page, "mod_python version") == "<code>%s</code>" % mod_python.version.version
    assert "mod_python/" in cell(page, "Apache version")
    assert cell(page, "Apache server root") == "<code>%s</code>" % srv.root
    assert cell(page, "Apache document root") == "<code>%s</code>" % srv.htdocs
    assert cell(page, "Python interpreter name") == "<code>localhost</code>"
    assert srv.path("lib") in cell(page, "Python sys.path")
    log = cell(page, "Apache error log")
    assert log.startswith("<code>%s</code>" % srv.error_log) and "?view_log=1" in log
    threads = cell(page, "Apache threaded MPM")
    if srv.mpm == "prefork":
        assert threads == "<code>No (single thread MPM)</code>"
    else:
        assert threads == "<code>Yes, maximum 16 threads / process</code>"
    assert cell(page, "Apache forked MPM").startswith("<code>Yes, maximum ")
    assert cell(page, "uri") == "<code>/test/x</code>"
    assert cell(page, "method") == "<code>GET</code>"
    assert cell(page, "REMOTE_ADDR") == "<code>127.0.0.1</code>"   # add_common_vars
    assert cell(page, "SERVER_PORT") == "<code>%d</code>" % srv.port
    assert cell(page, "Host") == "<code>127.0.0.1:%d</code>" % srv.port


def test_page_form_fields(srv):
    r = srv.request("/test?q=1&q=2", method="POST", body="name=J%C3%BCrgen&x=",
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 200, (r, srv.log())
    form = r.text.split("<h3>Form fields</h3>")[1].split("</table>")[0]
    rows = re.findall(r"<tr><td><code>(.*?)</code></td><td><code>(.*?)</code></td></tr>", form)
    assert rows == [("q", "1"), ("q", "2"), ("name", "Jürgen")]


def test_page_upload_shows_the_file_name_not_the_content(srv):
    b = "----confgenBoundary"
    body = ("--%s\r\nContent-Disposition: form-data; name=\"up\"; filename=\"<a>.txt\"\r\n"
            "Content-Type: text/plain\r\n\r\nSECRET CONTENT\r\n--%s--\r\n" % (b, b))
    r = srv.request("/test", method="POST", body=body.encode(),
                    headers={"Content-Type": "multipart/form-data; boundary=" + b})
    assert r.status == 200, (r, srv.log())
    assert cell(r.text, "up") == "<code>file &#x27;&lt;a&gt;.txt&#x27; (text/plain)</code>"
    assert "SECRET CONTENT" not in r.text


def test_page_escapes_what_it_prints(srv):
    script = "<script>alert(1)</script>"
    r = srv.get("/test?s=" + script, headers={"X-Probe": script})
    assert r.status == 200, (r, srv.log())
    page = r.text
    assert "<script" not in page.lower()
    escaped = "&lt;script&gt;alert(1)&lt;/script&gt;"
    assert cell(page, "s") == "<code>%s</code>" % escaped                # the form
    assert cell(page, "X-Probe") == "<code>%s</code>" % escaped          # a header
    assert cell(page, "args") == "<code>s=%s</code>" % escaped           # the request
    assert cell(page, "HTTP_X_PROBE") == "<code>%s</code>" % escaped     # the environment
    assert escaped in cell(page, "the_request")
    # the configuration: an option, and the tree
    assert "<b>" not in page
    assert cell(page, "confgen.marker") == "<code>&lt;b&gt;bold&lt;/b&gt;</code>"
    tree = page.split("<h3>Server configuration tree</h3>\n<pre>")[1].split("</pre>")[0]
    lines = tree.splitlines()
    assert "&lt;Location /test&gt;" in lines
    assert "    PythonHandler mod_python.testhandler" in lines
    assert '    PythonOption confgen.marker &quot;&lt;b&gt;bold&lt;/b&gt;&quot;' in lines
    assert "ServerName localhost" in lines


def test_view_log_is_the_last_100_lines(srv):
    with open(srv.error_log, "a") as f:
        f.write("".join("probe-line-%d|\n" % i for i in range(250)))
    r = srv.get("/test?view_log=1")
    assert r.status == 200, (r, srv.log())
    assert r.headers["Content-Type"] == "text/plain"
    lines = r.text.splitlines()
    assert len(lines) == 100
    assert "probe-line-249|" in lines
    assert "probe-line-149|" not in lines
    assert lines[0] in srv.log().splitlines()


def test_view_log_of_a_log_it_cannot_read(srv):
    """A log the children may not read (only root): 404, no traceback."""
    mode = os.stat(srv.error_log).st_mode
    os.chmod(srv.error_log, 0o600)
    try:
        r = srv.get("/test?view_log=1")
    finally:
        os.chmod(srv.error_log, mode)
    assert r.status == 404, r
    assert "Traceback" not in srv.log()
