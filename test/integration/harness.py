"""Start a real httpd from the build tree on a free 127.0.0.1 port.

Used by the integration tests and by the demo.  The server runs its
children as an unprivileged user (www-data), from a tree under /tmp that
user can read, with a clean environment, and is always stopped by its pid
file.
"""
import http.client
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
# Test applications: apps/<name>/ is copied into a server's root by
# Httpd.install_app(name).
APPS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "apps")
# MP_MODULE: another build of the module (the ASan one, say).
MODULE = os.environ.get("MP_MODULE") or os.path.join(ROOT, "src", ".libs", "mod_python.so")
# The tree it was built in (ROOT: this one), and the mod_python.version its
# configure made there: the build's facts.
BUILD_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(MODULE)))
BUILD_VERSION_PY = os.path.join(BUILD_ROOT, "lib", "python", "mod_python", "version.py")
# MP_PYTHON_HOME: the prefix of the Python that build embeds, when it is not
# the system's (scripts/matrix.py): every configuration that loads the
# module says PythonHome PYTHON_HOME.
PYTHON_HOME = os.environ.get("MP_PYTHON_HOME") or None
# MP_ASAN=1: the module was built with ASan + UBSan; preload their runtimes
# into httpd and fail a test whose server wrote a report.
ASAN = os.environ.get("MP_ASAN") == "1"


def sanitizer_env(logdir):
    libs = [subprocess.run(["gcc", "-print-file-name=" + lib], capture_output=True,
                           text=True).stdout.strip() for lib in ("libasan.so", "libubsan.so")]
    return {"LD_PRELOAD": ":".join(libs),
            "ASAN_OPTIONS": "detect_leaks=0:log_path=%s/asan" % logdir,
            "UBSAN_OPTIONS": "print_stacktrace=1:log_path=%s/ubsan" % logdir}
HTTPD = "/usr/sbin/apache2"
MODULES_DIR = "/usr/lib/apache2/modules"
RUN_USER = os.environ.get("MP_TEST_USER", "www-data")
CLEAN_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"

def threaded(servers, threads, start=1):
    """worker/event settings: `servers` children of `threads` threads,
    `start` of them started with the server."""
    return """
        StartServers {start}
        ServerLimit {s}
        ThreadsPerChild {t}
        MaxRequestWorkers {m}
        MinSpareThreads 1
        MaxSpareThreads {m}
    """.format(s=servers, t=threads, m=servers * threads, start=start)


ONE_PREFORK_CHILD = """
    StartServers 1
    ServerLimit 1
    MaxRequestWorkers 1
    MinSpareServers 1
    MaxSpareServers 1
"""

MPM_SETTINGS = {
    "prefork": """
        StartServers 2
        MinSpareServers 1
        MaxSpareServers 4
        MaxRequestWorkers 8
    """,
    "worker": threaded(2, 16),
    "event": threaded(2, 16),
}


def edit_visible(path, text):
    """Rewrite `path` so that stat() sees the change too: its mtime moves a
    second on (two saves within one clock tick keep size and mtime)."""
    old = os.stat(path).st_mtime_ns if os.path.exists(path) else 0
    with open(path, "w") as f:
        f.write(text)
    os.utime(path, ns=(old + 10**9, old + 10**9))


def needs_system_packages(*names):
    """A mark for tests that import Debian's packages `names` (python3-flask,
    ...), in /usr/lib/python3/dist-packages: only the system Python has
    them, so they are skipped when the module embeds another one."""
    import pytest
    return pytest.mark.skipif(PYTHON_HOME is not None, reason=(
        "needs the system Python's %s (/usr/lib/python3/dist-packages); the module "
        "embeds the Python in %s" % (", ".join(names), PYTHON_HOME)))


def run_embedded_python(code, *args):
    """stdout of `code` run by the python3 of the Python the module embeds
    (the system's, or MP_PYTHON_HOME's): what that Python reads and says."""
    exe = os.path.join(PYTHON_HOME, "bin", "python3") if PYTHON_HOME else "/usr/bin/python3"
    return subprocess.run([exe, "-c", code] + list(args), env={"PATH": CLEAN_PATH},
                          capture_output=True, text=True, check=True).stdout


def python_home_line():
    """The PythonHome line a configuration that loads the module needs
    ("" for the system Python)."""
    return "PythonHome %s\n" % PYTHON_HOME if PYTHON_HOME else ""


def handler_vhost(h, name, directory, extra="", inner=""):
    """A <VirtualHost> `name` on h's port whose `directory` runs
    `PythonHandler handler`; `extra`: lines for the virtual host, `inner`:
    for its <Directory>."""
    return """
<VirtualHost 127.0.0.1:{port}>
    ServerName {name}
    DocumentRoot {d}
    {extra}
    <Directory {d}>
        SetHandler mod_python
        PythonHandler handler
        {inner}
    </Directory>
</VirtualHost>
""".format(port=h.port, name=name, d=directory, extra=extra, inner=inner)


def one_child(mpm, threads=16):
    """Settings for a single child process: what a test counts is then the
    state of one process."""
    return ONE_PREFORK_CHILD if mpm == "prefork" else threaded(1, threads)


def allow_core_dumps():
    """In httpd's parent (preexec): a crashing child leaves a core in
    logs/ (CoreDumpDirectory), which cleanup() turns into backtraces."""
    import resource
    hard = resource.getrlimit(resource.RLIMIT_CORE)[1]
    resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout=5.0, interval=0.02):
    """Poll until predicate() is true; what runs after the response (log
    and cleanup phases, pool cleanups) finishes a moment later."""
    deadline = time.time() + timeout
    while True:
        v = predicate()
        if v or time.time() > deadline:
            return v
        time.sleep(interval)


def read_file(path):
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers
        self.body = body

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def __repr__(self):
        return "<Response %d %r>" % (self.status, self.body[:200])


class Httpd:
    """One httpd instance: write files into .root, configure, start, stop."""

    def __init__(self, mpm="event", prefix="mp-test-", root=None, port=None):
        self.mpm = mpm
        if root:
            os.makedirs(root)
            self.root = root
        else:
            self.root = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
        os.chmod(self.root, 0o755)
        self.port = port or free_port()
        # A second port, for apps that listen on two ({port2} in their
        # httpd.conf): never the first one.
        self.port2 = free_port()
        while self.port2 == self.port:
            self.port2 = free_port()
        self.htdocs = self.path("htdocs")
        os.makedirs(self.htdocs)
        os.makedirs(self.path("run"))
        os.makedirs(self.path("logs"))
        user = pwd.getpwnam(RUN_USER)
        os.chown(self.path("logs"), user.pw_uid, user.pw_gid)
        # The Python half, where the unprivileged children can read it,
        # with the version.py that the module's build made (its facts).
        shutil.copytree(os.path.join(ROOT, "lib", "python"), self.path("lib"))
        if os.path.isfile(BUILD_VERSION_PY):
            shutil.copyfile(BUILD_VERSION_PY, self.path("lib", "mod_python", "version.py"))
        self.pidfile = self.path("run", "httpd.pid")
        self.error_log = self.path("logs", "error.log")
        self.conf = self.path("httpd.conf")
        self.started = False
        self.extra_env = {}
        self.launcher = []   # e.g. ["taskset", "-c", "0"]
        if ASAN:
            self.extra_env.update(sanitizer_env(self.path("logs")))

    def path(self, *parts):
        return os.path.join(self.root, *parts)

    def write(self, relpath, text, mode=0o644):
        """Write a file under the test tree (dedented); returns its path."""
        p = self.path(relpath)
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(textwrap.dedent(text))
        os.chmod(p, mode)
        return p

    def install_app(self, name, **fields):
        """Copy apps/<name>/ into the test tree, as write() would (same
        relative paths, readable by the server's user), all but its
        httpd.conf; return that httpd.conf, a str.format template, filled
        in with root, htdocs, port, port2 and `fields` (the body for
        config())."""
        src = os.path.join(APPS, name)
        if not os.path.isdir(src):
            raise FileNotFoundError("no test app " + src)
        conf = ""
        for dirpath, dirnames, filenames in os.walk(src):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            rel = os.path.relpath(dirpath, src)
            os.makedirs(self.path(rel), exist_ok=True)
            os.chmod(self.path(rel), 0o755)
            for fn in sorted(filenames):
                s, p = os.path.join(dirpath, fn), os.path.normpath(self.path(rel, fn))
                if p == self.conf:
                    with open(s) as f:
                        conf = f.read()
                    continue
                shutil.copyfile(s, p)
                os.chmod(p, 0o755 if os.access(s, os.X_OK) else 0o644)
        return conf.format(root=self.root, htdocs=self.htdocs, port=self.port,
                           port2=self.port2, **fields)

    def config(self, body, loglevel="notice", modules=(), mpm_settings=None,
               python_module=MODULE, python_home=True):
        """Write httpd.conf: our module from the build tree (or another
        `python_module`, or none), PythonHome MP_PYTHON_HOME if set (unless
        not `python_home`), then `body`."""
        mods = ["authz_core", "authn_core", "authz_user", "mime",
                "alias", "dir"] + list(modules)
        loads = "\n".join("LoadModule %s_module %s/mod_%s.so" % (m, MODULES_DIR, m)
                          for m in mods)
        if python_module:
            loads += "\nLoadModule python_module %s" % python_module
            if python_home and PYTHON_HOME:
                loads += "\n" + python_home_line()
        conf = """
            ServerRoot {root}
            Listen 127.0.0.1:{port}
            ServerName localhost
            PidFile {pidfile}
            ErrorLog {error_log}
            LogLevel {loglevel}
            DefaultRuntimeDir {root}/run
            Mutex file:{root}/run default
            User {user}
            Group {user}
            LoadModule mpm_{mpm}_module {modules_dir}/mod_mpm_{mpm}.so
            {loads}
            TypesConfig /etc/mime.types
            DocumentRoot {htdocs}
            KeepAlive On
            MaxKeepAliveRequests 0
            GracefulShutdownTimeout 10
            CoreDumpDirectory {root}/logs
            {mpm_settings}
            <Directory />
                AllowOverride None
                Require all granted
            </Directory>
        """.format(root=self.root, port=self.port, pidfile=self.pidfile,
                   error_log=self.error_log, loglevel=loglevel, user=RUN_USER,
                   mpm=self.mpm, modules_dir=MODULES_DIR, loads=loads,
                   htdocs=self.htdocs,
                   mpm_settings=textwrap.dedent(mpm_settings or MPM_SETTINGS[self.mpm]))
        with open(self.conf, "w") as f:
            f.write(textwrap.dedent(conf) + "\n" + textwrap.dedent(body) + "\n")

    def env(self):
        env = {"PATH": CLEAN_PATH, "PYTHONPATH": self.path("lib"), "LANG": "C.UTF-8"}
        env.update(self.extra_env)
        return env

    def ctl(self, *args, check=True):
        return subprocess.run(self.launcher + [HTTPD, "-f", self.conf] + list(args),
                              preexec_fn=allow_core_dumps,
                              env=self.env(),
                              capture_output=True, text=True, check=check, timeout=60)

    def configtest(self):
        """(ok, output) of httpd -t."""
        r = self.ctl("-t", check=False)
        return r.returncode == 0, r.stdout + r.stderr

    def pid(self):
        try:
            with open(self.pidfile) as f:
                return int(f.read().strip())
        except (OSError, ValueError):
            return None

    def start(self):
        r = self.ctl("-k", "start", check=False)
        if r.returncode != 0:
            raise RuntimeError("httpd failed to start:\n%s%s\n%s" % (
                r.stdout, r.stderr, self.log()))
        self.started = True
        self.wait_up()

    def wait_up(self, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    if self.pid():
                        return
            except OSError:
                pass
            if "Configuration Failed" in self.log():
                break
            time.sleep(0.05)
        raise RuntimeError("httpd did not come up:\n" + self.log())

    def graceful(self):
        generation = self.log().count("resuming normal operations")
        self.ctl("-k", "graceful")
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.log().count("resuming normal operations") > generation:
                return
            time.sleep(0.05)
        raise RuntimeError("graceful restart did not complete:\n" + self.log())

    def stop(self):
        """Stop by the pid file and wait until the parent is gone."""
        pid = self.pid()
        if not pid:
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            os.kill(pid, signal.SIGKILL)
            raise RuntimeError("httpd (pid %d) did not stop" % pid)
        self.started = False

    def children(self):
        """pids whose parent is the httpd parent."""
        pid = self.pid()
        out = []
        for d in os.listdir("/proc"):
            if d.isdigit():
                try:
                    with open("/proc/%s/stat" % d) as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                    if int(fields[1]) == pid:
                        out.append(int(d))
                except OSError:
                    pass
        return out

    def sanitizer_reports(self):
        logs = self.path("logs")
        out = []
        for name in sorted(os.listdir(logs)) if os.path.isdir(logs) else []:
            if name.startswith(("asan.", "ubsan.")):
                with open(os.path.join(logs, name), errors="replace") as f:
                    out.append(name + ":\n" + f.read())
        return out

    def crash_report(self):
        """Backtraces (gdb) of the cores a crashed child left, or ""."""
        cores = [os.path.join(self.path("logs"), f) for f in os.listdir(self.path("logs"))
                 if f.startswith("core")] if os.path.isdir(self.path("logs")) else []
        out = []
        for core in cores:
            r = subprocess.run(["gdb", "-batch", "-nx", "-ex", "thread apply all bt 30",
                                HTTPD, core], capture_output=True, text=True, timeout=120)
            out.append("== %s\n%s" % (core, r.stdout[-30000:]))
        return "\n".join(out)

    def cleanup(self):
        try:
            self.stop()
            if "exit signal" in self.log() and shutil.which("gdb"):
                report = self.crash_report()
                if report:
                    # kept past the test tree: the test that saw it may pass
                    path = "/tmp/mp-crash-%d.txt" % int(time.time() * 1000)
                    with open(path, "w") as f:
                        f.write("test: %s\n" % os.environ.get("PYTEST_CURRENT_TEST"))
                        f.write(self.log()[-20000:] + "\n" + report)
                    sys.stderr.write("httpd child crashed; backtraces in %s\n" % path)
            reports = self.sanitizer_reports()
            if reports:
                raise AssertionError("sanitizer reports:\n" + "\n".join(reports)[:20000])
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def log(self):
        try:
            with open(self.error_log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def request(self, path, method="GET", host=None, headers=None, body=None,
                timeout=30):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            h = dict(headers or {})
            if host:
                h["Host"] = host
            conn.request(method, path, body=body, headers=h)
            r = conn.getresponse()
            return Response(r.status, r.headers, r.read())
        finally:
            conn.close()

    get = request
