"""The `mod_python` command from the build tree (scripts/mod_python):
version; create + start + a request + stop; serve a handler file (under
each MPM: requests, an edit run by the next request, SIGINT leaves no
httpd process and no temporary directory), a directory (publisher and
PSP), a WSGI application; its one-line errors.  Run as root, the
children are checked to run as www-data; one test runs it as `nobody`."""
import os
import pwd
import re
import runpy
import shutil
import signal
import socket
import subprocess
import tempfile
import textwrap

import pytest

from conftest import MPMS
from harness import (ASAN, CLEAN_PATH, MODULE, ROOT, RUN_USER, edit_visible, free_port,
                     wait_for)

pytestmark = pytest.mark.skipif(ASAN, reason="httpd started by the command has no "
                                "sanitizer runtimes preloaded")

COMMAND = os.path.join(ROOT, "scripts", "mod_python")
IS_ROOT = os.geteuid() == 0
# uid httpd's children should have: www-data's when root, ours if not
CHILD_UID = pwd.getpwnam(RUN_USER).pw_uid if IS_ROOT else os.getuid()

HANDLER = """\
import os
from mod_python import apache

def handler(req):
    req.content_type = "text/plain"
    req.write("%s uid=%d" % (VERSION, os.getuid()))
    return apache.OK

VERSION = "{version}"
"""


def env():
    return {"PATH": CLEAN_PATH, "LANG": "C.UTF-8", "MOD_PYTHON_SO": MODULE}


def run(*args, timeout=60, user=None):
    pre = ["setpriv", "--reuid", user, "--regid", "nogroup", "--clear-groups"] if user else []
    return subprocess.run(pre + [COMMAND] + list(args), env=env(), capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture
def tree():
    """A directory under /tmp that httpd's children (www-data) can read;
    write(rel, text) puts a file in it."""
    root = tempfile.mkdtemp(prefix="mp-cli-", dir="/tmp")
    os.chmod(root, 0o755)

    def write(rel, text):
        p = os.path.join(root, rel)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(textwrap.dedent(text))
        os.chmod(p, 0o644)
        return p

    write.root = root
    yield write
    shutil.rmtree(root, ignore_errors=True)


def get(port, path="/"):
    import http.client
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read().decode()
    finally:
        conn.close()


def processes_naming(text):
    """pids of processes whose command line contains `text`."""
    out = []
    for d in os.listdir("/proc"):
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                if text.encode() in f.read():
                    out.append(int(d))
        except (OSError, ValueError):
            pass
    return out


class Serve:
    """`mod_python serve ARGS` in the background, its stdout and stderr in
    files of the tree."""

    def __init__(self, tree, args, user=None):
        self.port = free_port()
        self.out_path = os.path.join(tree.root, ".out-%d" % self.port)
        self.err_path = os.path.join(tree.root, ".err-%d" % self.port)
        pre = ["setpriv", "--reuid", user, "--regid", "nogroup", "--clear-groups"] \
            if user else []
        self.argv = pre + [COMMAND, "serve", "--port", str(self.port)] + list(args)
        self.cwd = tree.root
        self.proc = self.tmp = None

    def start(self):
        # appending: the command writes at the end of the files, whatever
        # this process reads (a shared offset would let it overwrite them)
        with open(self.out_path, "a") as out, open(self.err_path, "a") as err:
            self.proc = subprocess.Popen(self.argv, env=env(), stdout=out, stderr=err,
                                         cwd=self.cwd)
        started = wait_for(lambda: "Ctrl-C stops" in self.stderr()
                           or self.proc.poll() is not None, timeout=30)
        assert started and self.proc.poll() is None, "serve did not start:\n" + self.stderr()
        self.tmp = re.search(r"configuration in (\S+)", self.stderr()).group(1)

    def stderr(self):
        return read(self.err_path)

    def stdout(self):
        return read(self.out_path)

    def interrupt(self):
        """SIGINT, as Ctrl-C: the command's exit status."""
        self.proc.send_signal(signal.SIGINT)
        return self.proc.wait(timeout=30)

    def close(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        for pid in processes_naming(self.tmp) if self.tmp else []:
            os.kill(pid, signal.SIGKILL)


def read(path):
    with open(path, errors="replace") as f:
        return f.read()


@pytest.fixture
def serve(tree):
    """serve(ARGS...) starts `mod_python serve` on a free port in the
    tree; each is stopped at the end (even one that failed to start)."""
    made = []

    def start(*args, user=None):
        s = Serve(tree, args, user=user)
        made.append(s)
        s.start()
        return s

    yield start
    for s in made:
        s.close()


def test_version():
    r = run("version")
    assert r.returncode == 0, r.stderr
    # the build's facts, as configure wrote them
    facts = runpy.run_path(os.path.join(ROOT, "lib", "python", "mod_python", "version.py"))
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["mod_python:", facts["version"]]
    assert lines[1].strip() == MODULE
    assert "Apache/2.4" in r.stdout and facts["HTTPD"] in r.stdout


@pytest.mark.parametrize("user", [None, "nobody"])
def test_create_start_stop(tree, user):
    """create, start, requests, stop: as root (children as www-data), and
    as a normal user (runtime files and mutexes in the server's logs/)."""
    if user and not IS_ROOT:
        pytest.skip("needs root to become nobody")
    if user:
        os.chown(tree.root, pwd.getpwnam(user).pw_uid, -1)
    d = os.path.join(tree.root, "site")
    port = free_port()
    r = run("create", d, "--listen", "127.0.0.1:%d" % port, user=user)
    assert r.returncode == 0, r.stderr
    tree("site/htdocs/whoami.py", "import os\ndef index(req):\n    return str(os.getuid())\n")
    gen = run("genconfig", d)
    with open(os.path.join(d, "conf", "httpd.conf")) as f:
        assert gen.stdout == f.read() and "LoadModule python_module %s" % MODULE in gen.stdout
    r = run("start", d, user=user)
    try:
        assert r.returncode == 0, r.stdout + r.stderr
        assert get(port, "/") == (200, "Hello from mod_python!\n")
        assert get(port, "/index.py/hello?name=cli") == (200, "Hello, cli!\n")
        uid = pwd.getpwnam(user).pw_uid if user else CHILD_UID
        assert get(port, "/whoami.py") == (200, str(uid))
        assert_one_line_error(run("start", d, user=user), "already running")
        # the 3.5 way to change it: edit the script, genconfig, restart
        script = os.path.join(d, "conf", "httpd_conf.py")
        with open(script) as f:
            text = f.read().replace(
                "\nprint(config)", '\nconfig.append(PythonOption("greeting again"))\nprint(config)')
        with open(script, "w") as f:
            f.write(text)
        assert run("genconfig", d, "--write").returncode == 0
        r = run("restart", d, user=user)
        assert r.returncode == 0, r.stderr
        assert wait_for(lambda: get_or_none(port, "/") == (200, "again\n"))
    finally:
        stop = run("stop", d, user=user)
    assert stop.returncode == 0, stop.stderr
    assert get_or_none(port, "/") is None
    assert_one_line_error(run("stop", d, user=user), "not running")


def test_start_that_fails_is_reported(tree):
    # a port taken: httpd says so before it detaches
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        d = os.path.join(tree.root, "taken")
        r = run("create", d, "--listen", "127.0.0.1:%d" % taken.getsockname()[1])
        assert r.returncode == 0, r.stderr
        r = run("start", d)
        assert r.returncode == 1 and "Address already in use" in r.stderr, r.stderr
    # mod_python's locks cannot be made (not even root may create files in
    # /proc): httpd fails after it detached, and the command, which waits
    # to see it up, says so
    d = os.path.join(tree.root, "locks")
    r = run("create", d, "--listen", "127.0.0.1:%d" % free_port(),
            "--pythonoption", "mod_python.mutex_directory /proc")
    assert r.returncode == 0, r.stderr
    assert_one_line_error(run("start", d), "httpd did not start")
    with open(os.path.join(d, "logs", "error_log")) as f:
        assert "cannot create lock" in f.read()


def get_or_none(port, path):
    try:
        return get(port, path)
    except OSError:
        return None


@pytest.mark.parametrize("mpm", MPMS)
def test_serve_file_reloads_and_stops(tree, serve, mpm):
    path = tree("app.py", HANDLER.format(version="v1"))
    s = serve("app.py", "--mpm", mpm)
    r = get(s.port, "/any/path")
    assert r == (200, "v1 uid=%d" % CHILD_UID), (r, s.stderr())
    edit_visible(path, HANDLER.format(version="v2"))
    r = get(s.port, "/")
    assert r == (200, "v2 uid=%d" % CHILD_UID), (r, s.stderr())
    assert processes_naming(s.tmp)
    assert s.interrupt() == 0, s.stderr()
    assert not os.path.exists(s.tmp)
    assert processes_naming(s.tmp) == [], s.stderr()
    assert get_or_none(s.port, "/") is None
    # the access log went to stdout, the error log (the import) to stderr
    assert '"GET /any/path HTTP/1.1" 200' in s.stdout(), s.stdout()
    assert "Importing module '%s'" % path in s.stderr()


def test_serve_file_with_a_syntax_error(tree, serve):
    """A file being edited is served all the same: its traceback until it
    is fixed."""
    path = tree("app.py", "def handler(req:\n")
    s = serve("app.py")
    status, body = get(s.port, "/")
    assert status == 500 and "SyntaxError" in body, body
    edit_visible(path, HANDLER.format(version="fixed"))
    assert get(s.port, "/")[1].startswith("fixed ")


def test_serve_no_reload(tree, serve):
    """--no-reload: PythonAutoReload Off, and the interpreter frozen:
    not even import_module(autoreload=True) loads an edited module."""
    path = tree("app.py", HANDLER.format(version="v1"))
    helper = tree("helper.py", "V = 'a'\n")
    tree("frozen.py", """\
        import os
        from mod_python import apache

        def handler(req):
            here = os.path.dirname(__file__)
            m = apache.import_module(os.path.join(here, "helper.py"), autoreload=True)
            req.write(m.V)
            return apache.OK
    """)
    s = serve("app.py", "--no-reload", "--mpm", "prefork", "--processes", "1")
    assert get(s.port, "/")[1].startswith("v1 ")
    edit_visible(path, HANDLER.format(version="v2"))
    assert get(s.port, "/")[1].startswith("v1 ")
    s2 = serve("frozen.py", "--no-reload", "--mpm", "prefork", "--processes", "1")
    assert get(s2.port, "/") == (200, "a")
    edit_visible(helper, "V = 'b'\n")
    assert get(s2.port, "/") == (200, "a")


def test_serve_directory(tree, serve):
    tree("index.py", """\
        def index(req):
            return "the index"

        def add(req, a, b):
            return str(int(a) + int(b))
    """)
    tree("page.psp", "<% n = 6 * 7 %>psp says <%= n %>")
    tree("static.txt", "plain file\n")
    tree("sub/more.py", "def page(req):\n    return 'below'\n")
    s = serve()     # TARGET defaults to the current directory
    assert get(s.port, "/") == (200, "the index")
    assert get(s.port, "/sub/more.py/page") == (200, "below")
    assert get(s.port, "/index.py/add?a=2&b=3") == (200, "5")
    assert get(s.port, "/page.psp") == (200, "psp says 42")
    assert get(s.port, "/static.txt") == (200, "plain file\n")


def test_serve_wsgi(tree, serve):
    app = textwrap.dedent("""\
        def application(environ, start_response):
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [("%s %s" % ("{v}", environ["PATH_INFO"])).encode()]
    """)
    path = tree("app.py", app.format(v="one"))
    tree("pkg/__init__.py", "")
    tree("pkg/site.py", app.format(v="pkg"))
    s = serve(".", "--wsgi", "app::application")
    assert get(s.port, "/x/y") == (200, "one /x/y")
    edit_visible(path, app.format(v="two"))
    assert get(s.port, "/x") == (200, "two /x")
    s2 = serve(".", "--wsgi", "pkg.site")
    assert get(s2.port, "/z") == (200, "pkg /z")


def ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6) as sock:
            sock.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not ipv6_loopback(), reason="no IPv6 loopback")
def test_serve_ipv6(tree, serve):
    import http.client
    tree("app.py", HANDLER.format(version="v6"))
    s = serve("app.py", "--host", "::1")
    assert "at http://[::1]:%d/" % s.port in s.stderr()
    conn = http.client.HTTPConnection("::1", s.port, timeout=30)
    conn.request("GET", "/")
    assert conn.getresponse().read().decode().startswith("v6 ")
    conn.close()


def assert_one_line_error(r, *words):
    assert r.returncode == 1, r.stdout + r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr, r.stderr
    for w in words:
        assert w in r.stderr, r.stderr


def test_serve_errors(tree):
    tree("app.py", HANDLER.format(version="v1"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert_one_line_error(run("serve", os.path.join(tree.root, "app.py"), "--port",
                                  str(port)), "port %d" % port, "already in use")
    port = str(free_port())
    tree("empty/readme.txt", "nothing for mod_python\n")
    assert_one_line_error(run("serve", os.path.join(tree.root, "empty"), "--port", port),
                          "nothing to serve")
    tree("nohandler.py", "def other(req):\n    pass\n")
    assert_one_line_error(run("serve", os.path.join(tree.root, "nohandler.py"), "--port",
                              port), "defines no handler(req)")
    assert_one_line_error(run("serve", os.path.join(tree.root, "missing.py"), "--port",
                              port), "does not exist")
    assert_one_line_error(run("serve", tree.root, "--wsgi", "nosuch.py", "--port", port),
                          "no WSGI application file")
    assert_one_line_error(run("serve", tree.root, "--processes", "0", "--port", port),
                          "--processes must be at least 1")
    r = subprocess.run([COMMAND, "serve", os.path.join(tree.root, "app.py"), "--port", port],
                       env=dict(env(), MOD_PYTHON_SO="/nonexistent/mod_python.so"),
                       capture_output=True, text=True, timeout=60)
    assert_one_line_error(r, "cannot find the mod_python module", "/nonexistent/mod_python.so")


def test_httpd_not_found(monkeypatch):
    """configure's HTTPD, then apxs's, then the PATH; none: one message."""
    monkeypatch.syspath_prepend(os.path.join(ROOT, "lib", "python"))
    from mod_python import clihttpd, version
    monkeypatch.setattr(version, "HTTPD", "/nonexistent/apache2")
    assert clihttpd.find_httpd() in ("/usr/sbin/apache2", "/usr/sbin/httpd")
    monkeypatch.setattr(clihttpd, "_apxs", lambda var: "")
    monkeypatch.setattr(clihttpd, "CLEAN_PATH", "/nonexistent")
    with pytest.raises(clihttpd.CliError, match="cannot find httpd: not at '/nonexistent/apache2'"):
        clihttpd.find_httpd()


@pytest.mark.skipif(not IS_ROOT, reason="the drop to www-data happens only as root")
def test_serve_unreadable_for_children(tree):
    tree("private/app.py", HANDLER.format(version="v1"))
    os.chmod(os.path.join(tree.root, "private"), 0o700)
    r = run("serve", os.path.join(tree.root, "private", "app.py"), "--port", str(free_port()))
    assert_one_line_error(r, RUN_USER, "cannot read", "private")


@pytest.mark.skipif(not IS_ROOT or not shutil.which("setpriv"),
                    reason="needs root to become nobody")
def test_serve_as_a_normal_user(tree, serve):
    tree("app.py", HANDLER.format(version="v1"))
    s = serve("app.py", user="nobody")
    assert get(s.port, "/") == (200, "v1 uid=%d" % pwd.getpwnam("nobody").pw_uid)
    assert s.interrupt() == 0, s.stderr()
    # httpd's logs reach the command's output even where httpd (nobody)
    # could not open it itself (the test's files are root's)
    assert "Importing module" in s.stderr()
    assert '"GET / HTTP/1.1" 200' in s.stdout()
    assert not os.path.exists(s.tmp) and processes_naming(s.tmp) == []
