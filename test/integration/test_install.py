"""make install / make uninstall (scripts/install.py) and configure's
messages: a DESTDIR tree checked file by file, the refusal to replace files
that are not ours, and a real install into a throwaway tree that an httpd
loads (its python.load, its package) to serve a request.  Never the
system's directories: every run names its own."""
import glob
import marshal
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import urllib.request

import pytest

from harness import (ASAN, BUILD_ROOT, BUILD_VERSION_PY, CLEAN_PATH, MODULE, ROOT, free_port,
                     handler_vhost, python_home_line, read_file, wait_for)

pytestmark = pytest.mark.skipif(
    not os.path.isfile(os.path.join(BUILD_ROOT, "Makefile")) or not os.path.isfile(MODULE),
    reason="needs a configured and built tree (%s)" % BUILD_ROOT)

PACKAGE = os.path.join(BUILD_ROOT, "lib", "python", "mod_python")
# Where these tests install (inside DESTDIR, or a throwaway tree).
DIRS = {"LIBEXECDIR": "/x/modules", "PY_SITEDIR": "/x/site-packages", "BINDIR": "/x/bin",
        "MODS_AVAILABLE": "/x/apache2/mods-available"}


def built_python():
    """The Python the module was built for (version.py's PYTHON_BIN)."""
    return re.search(r'^PYTHON_BIN = "(.*)"', read_file(BUILD_VERSION_PY), re.M).group(1)


def make(target, dirs, destdir="", force=False):
    args = ["make", "-s", "--no-print-directory", "-C", BUILD_ROOT, target]
    args += ["%s=%s" % kv for kv in dirs.items()] + ["DESTDIR=" + destdir]
    if force:
        args.append("FORCE=1")
    return subprocess.run(args, capture_output=True, text=True, timeout=120,
                          env={"PATH": CLEAN_PATH, "LANG": "C.UTF-8"})


def files_under(root):
    return sorted(os.path.relpath(os.path.join(d, f), root)
                  for d, _, fs in os.walk(root) for f in fs)


def expected_files(dirs):
    """What install must write, worked out here and not by install.py."""
    tag = subprocess.run([built_python(), "-c", "import sys; print(sys.implementation.cache_tag)"],
                         capture_output=True, text=True, check=True).stdout.strip()
    site = os.path.join(dirs["PY_SITEDIR"], "mod_python")
    out = [os.path.join(dirs["LIBEXECDIR"], "mod_python.so"),
           os.path.join(dirs["BINDIR"], "mod_python"),
           os.path.join(dirs["MODS_AVAILABLE"], "python.load"),
           os.path.join(dirs["MODS_AVAILABLE"], "python.conf")]
    for src in glob.glob(os.path.join(PACKAGE, "*.py")):
        stem = os.path.basename(src)[:-3]
        out += [os.path.join(site, stem + ".py"),
                os.path.join(site, "__pycache__", "%s.%s.pyc" % (stem, tag))]
    return sorted(p.lstrip("/") for p in out), tag


@pytest.fixture
def tmpdir_755():
    d = tempfile.mkdtemp(prefix="mp-install-test-", dir="/tmp")
    os.chmod(d, 0o755)     # the throwaway install is read by httpd's user
    yield d
    shutil.rmtree(d, ignore_errors=True)


def test_destdir_install_tree_then_uninstall_leaves_no_file(tmpdir_755):
    dest = tmpdir_755
    r = make("install", DIRS, dest)
    assert r.returncode == 0, r.stdout + r.stderr
    want, tag = expected_files(DIRS)
    assert files_under(dest) == want
    at = lambda key, *p: os.path.join(dest + DIRS[key], *p)  # noqa: E731
    with open(MODULE, "rb") as a, open(at("LIBEXECDIR", "mod_python.so"), "rb") as b:
        assert a.read() == b.read()
    assert os.stat(at("LIBEXECDIR", "mod_python.so")).st_mode & 0o777 == 0o755
    version = read_file(at("PY_SITEDIR", "mod_python", "version.py"))
    assert re.search(r'^version = "4\.', version, re.M), version
    # the installed version.py says where the module was installed
    assert 'LIBEXECDIR = "%s"' % DIRS["LIBEXECDIR"] in version
    for src in glob.glob(os.path.join(PACKAGE, "*.py")):
        if os.path.basename(src) != "version.py":
            assert read_file(src) == read_file(at("PY_SITEDIR", "mod_python",
                                                  os.path.basename(src))), src
    command = read_file(at("BINDIR", "mod_python"))
    assert command.startswith("#!/bin/sh\n")
    assert 'exec %s -m mod_python.cli "$@"' % built_python() in command
    assert "PYTHONPATH=\"%s" % DIRS["PY_SITEDIR"] in command   # not on its sys.path
    assert os.access(at("BINDIR", "mod_python"), os.X_OK)
    load = read_file(at("MODS_AVAILABLE", "python.load"))
    assert re.findall(r"^\s*LoadModule.*$", load, re.M) == [
        "LoadModule python_module %s/mod_python.so" % DIRS["LIBEXECDIR"]]
    conf = read_file(at("MODS_AVAILABLE", "python.conf"))
    assert "SetHandler mod_python" in conf
    assert all(not line.strip() or line.startswith("#") for line in conf.splitlines()), conf
    if tag == sys.implementation.cache_tag:
        # tracebacks name the installed path, not the DESTDIR one
        with open(at("PY_SITEDIR", "mod_python", "__pycache__", "apache.%s.pyc" % tag), "rb") as f:
            code = marshal.loads(f.read()[16:])
        assert code.co_filename == DIRS["PY_SITEDIR"] + "/mod_python/apache.py"

    r = make("uninstall", DIRS, dest)
    assert r.returncode == 0, r.stdout + r.stderr
    assert files_under(dest) == []
    assert not os.path.exists(at("PY_SITEDIR", "mod_python"))


def test_refuses_a_foreign_module_until_forced(tmpdir_755):
    dest = tmpdir_755
    so = dest + DIRS["LIBEXECDIR"] + "/mod_python.so"
    os.makedirs(os.path.dirname(so))
    foreign = b"\x7fELF mod_python/3.5.0 someone else's module"
    with open(so, "wb") as f:
        f.write(foreign)
    r = make("install", DIRS, dest)
    assert r.returncode != 0
    assert so in r.stdout and "not installed by mod_python 4" in r.stdout, r.stdout
    assert "make install FORCE=1" in r.stderr and "nothing was changed" in r.stderr, r.stderr
    assert files_under(dest) == [so[len(dest) + 1:]]
    with open(so, "rb") as f:
        assert f.read() == foreign

    # uninstall leaves what is not ours
    r = make("uninstall", DIRS, dest)
    assert r.returncode == 0 and "kept " + so in r.stdout, r.stdout
    with open(so, "rb") as f:
        assert f.read() == foreign

    r = make("install", DIRS, dest, force=True)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "FORCE=1: replacing" in r.stdout
    with open(MODULE, "rb") as a, open(so, "rb") as b:
        assert a.read() == b.read()
    # ours now: a second install needs no FORCE, and uninstall removes it
    assert make("install", DIRS, dest).returncode == 0
    assert make("uninstall", DIRS, dest).returncode == 0
    assert files_under(dest) == []


def test_refuses_another_package_dir_and_conf(tmpdir_755):
    """3.5's package (its version.py) and a python.load we did not write."""
    dest = tmpdir_755
    pkg = dest + DIRS["PY_SITEDIR"] + "/mod_python"
    os.makedirs(pkg)
    with open(pkg + "/version.py", "w") as f:
        f.write('version = "3.5.0"\n')
    load = dest + DIRS["MODS_AVAILABLE"] + "/python.load"
    os.makedirs(os.path.dirname(load))
    with open(load, "w") as f:
        f.write("LoadModule python_module /usr/lib/apache2/modules/mod_python.so\n")
    r = make("install", DIRS, dest)
    assert r.returncode != 0
    assert pkg + " is not mod_python 4's package" in r.stdout, r.stdout
    assert load + " was not installed by mod_python 4" in r.stdout, r.stdout
    assert len(files_under(dest)) == 2
    assert make("install", DIRS, dest, force=True).returncode == 0
    assert DIRS["LIBEXECDIR"] in read_file(load)


def test_uninstall_disables_what_a2enmod_enabled(tmpdir_755):
    dest = tmpdir_755
    assert make("install", DIRS, dest).returncode == 0
    enabled = os.path.join(os.path.dirname(dest + DIRS["MODS_AVAILABLE"]), "mods-enabled")
    os.makedirs(enabled)
    for name in ("python.load", "python.conf"):   # as a2enmod links them
        os.symlink("../mods-available/" + name, os.path.join(enabled, name))
    r = make("uninstall", DIRS, dest)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "disabled: removed %s/python.load" % enabled in r.stdout, r.stdout
    assert os.listdir(enabled) == [] and files_under(dest) == []


def test_debian_packages_files_are_recognised():
    """Read only: the real libapache2-mod-python's files, where install would
    put ours with Debian's directories, are seen as its (dpkg)."""
    so = "/usr/lib/apache2/modules/mod_python.so"
    if subprocess.run(["dpkg-query", "-S", so], capture_output=True).returncode != 0:
        pytest.skip("libapache2-mod-python is not installed")
    sys.path.insert(0, os.path.join(ROOT, "scripts"))
    try:
        import install
    finally:
        sys.path.pop(0)
    assert install.foreign("so", so) == "belongs to the Debian package libapache2-mod-python"
    assert install.foreign("so", MODULE) == ""


HANDLER = """
import mod_python, os
from mod_python import apache, version

def handler(req):
    req.content_type = "text/plain"
    req.write("package %s\\n" % os.path.dirname(mod_python.__file__))
    req.write("apache %s\\n" % apache.__file__)
    req.write("libexecdir %s\\n" % version.LIBEXECDIR)
    return apache.OK
"""


def test_real_install_in_a_throwaway_tree_serves(httpd_factory, tmpdir_755):
    """Installed (no DESTDIR) into a temporary tree: httpd loads the module
    by the installed python.load and imports the installed package."""
    dirs = {k: tmpdir_755 + v for k, v in DIRS.items()}
    r = make("install", dirs)
    assert r.returncode == 0, r.stdout + r.stderr
    h = httpd_factory("event")
    shutil.rmtree(h.path("lib"))             # the harness's copy of the package: not used
    h.extra_env["PYTHONPATH"] = dirs["PY_SITEDIR"]
    site = os.path.join(dirs["PY_SITEDIR"], "mod_python")
    h.write("htdocs/app/handler.py", HANDLER)
    h.config("Include %s/python.load\n" % dirs["MODS_AVAILABLE"] + python_home_line()
             + handler_vhost(h, "installed", h.path("htdocs", "app")), python_module=None)
    h.start()
    r = h.request("/handler.py", host="installed")
    assert r.status == 200, (r, h.log())
    assert r.text.split("\n")[:3] == [
        "package " + site, "apache %s/apache.py" % site,
        "libexecdir " + dirs["LIBEXECDIR"]], r.text
    h.stop()
    r = make("uninstall", dirs)
    assert r.returncode == 0, r.stdout + r.stderr
    assert files_under(tmpdir_755) == []


@pytest.mark.skipif(not os.path.isfile(os.path.join(PACKAGE, "cli.py")),
                    reason="no mod_python.cli in this tree")
def test_installed_command_runs_the_installed_cli(tmpdir_755):
    dirs = {k: tmpdir_755 + v for k, v in DIRS.items()}
    assert make("install", dirs).returncode == 0
    r = subprocess.run([dirs["BINDIR"] + "/mod_python", "version"], capture_output=True,
                       text=True, timeout=30, env={"PATH": CLEAN_PATH})
    assert r.returncode == 0 and "4." in r.stdout, r.stdout + r.stderr


def get(port, path):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (port, path), timeout=10) as r:
            return r.status, r.read().decode()
    except OSError:
        return None


@pytest.mark.skipif(ASAN or not shutil.which("a2enmod", path=CLEAN_PATH),
                    reason="needs Debian's a2enmod, and no ASan build")
def test_new_user_install_a2enmod_serve(tmpdir_755):
    """What a new user does: make install, a2enmod python (run for real, on
    a configuration directory of the test's), then one `mod_python serve
    DIR` with the installed command, which finds the installed module."""
    dirs = {k: tmpdir_755 + v for k, v in DIRS.items()}
    confdir = os.path.dirname(dirs["MODS_AVAILABLE"])
    assert make("install", dirs).returncode == 0
    os.makedirs(os.path.join(confdir, "mods-enabled"))
    # a2enmod keeps state too: in the test's tree, not the system's
    env = {"PATH": CLEAN_PATH, "LANG": "C.UTF-8", "APACHE_CONFDIR": confdir,
           "APACHE_STATE_DIRECTORY": os.path.join(tmpdir_755, "state")}
    r = subprocess.run(["a2enmod", "python"], capture_output=True, text=True, env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    load = os.path.join(confdir, "mods-enabled", "python.load")
    assert os.path.realpath(load) == os.path.join(dirs["MODS_AVAILABLE"], "python.load")
    site = os.path.join(tmpdir_755, "site")
    os.makedirs(site)
    with open(os.path.join(site, "index.py"), "w") as f:
        f.write("def index(req):\n    return 'served ' + req.get_options().get('x', '')\n")
    os.chmod(site, 0o755)
    port = free_port()
    proc = subprocess.Popen([dirs["BINDIR"] + "/mod_python", "serve", site, "--port", str(port)],
                            env={"PATH": CLEAN_PATH, "LANG": "C.UTF-8"},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert wait_for(lambda: get(port, "/") is not None or proc.poll() is not None,
                        timeout=30), "serve did not answer"
        assert get(port, "/") == (200, "served "), proc.poll()
    finally:
        proc.send_signal(signal.SIGINT)
        err = proc.communicate(timeout=30)[1]
    assert proc.returncode == 0 and " mod_python/4." in err, err   # ours, not Debian's 3.5
    assert make("uninstall", dirs).returncode == 0
    assert not os.path.lexists(load)


# ---------------------------------------------------------------- configure

def configure(tmpdir, *args, env=None):
    """BUILD_ROOT's configure run in `tmpdir` (a separate build directory)."""
    e = {"PATH": CLEAN_PATH, "LANG": "C"}
    e.update(env or {})
    return subprocess.run([os.path.join(BUILD_ROOT, "configure")] + list(args), cwd=tmpdir,
                          capture_output=True, text=True, timeout=120, env=e)


needs_configure = pytest.mark.skipif(not os.path.isfile(os.path.join(BUILD_ROOT, "configure")),
                                     reason="no generated configure")


@needs_configure
def test_configure_names_a_missing_apxs(tmpdir_755):
    r = configure(tmpdir_755, "--with-apxs=/nonexistent/apxs")
    assert r.returncode != 0
    assert "apxs (httpd's module build tool) not found at /nonexistent/apxs" in r.stderr
    assert "apache2-dev" in r.stderr and "--with-apxs" in r.stderr


@needs_configure
def test_configure_names_a_python_without_shared_libpython(tmpdir_755):
    """A python3 whose sysconfig says Py_ENABLE_SHARED = 0, as a static build's does."""
    fake = os.path.join(tmpdir_755, "bin")
    os.makedirs(fake)
    with open(os.path.join(fake, "python3"), "w") as f:
        f.write('#!/bin/sh\ncase "$2" in *Py_ENABLE_SHARED*) echo 0; exit 0;; esac\n'
                'exec /usr/bin/python3 "$@"\n')
    os.chmod(os.path.join(fake, "python3"), 0o755)
    os.symlink("/usr/bin/python3-config", os.path.join(fake, "python3-config"))
    r = configure(tmpdir_755, "--with-python=" + os.path.join(fake, "python3"))
    assert r.returncode != 0
    assert "has no shared libpython" in r.stderr and "--enable-shared" in r.stderr, r.stderr
    r = configure(tmpdir_755, "--with-python=/nonexistent/python3")
    assert r.returncode != 0 and "/nonexistent/python3 not found" in r.stderr, r.stderr


@needs_configure
def test_configure_without_check_warns_and_check_unit_says_why(tmpdir_755):
    # No .pc files to find: Check is missing as far as configure can tell.
    r = configure(tmpdir_755, "--with-python=" + built_python(),
                  env={"PKG_CONFIG_LIBDIR": "/nonexistent"})
    assert r.returncode == 0, r.stdout + r.stderr
    assert "WARNING: Check not found" in r.stderr and "apt-get install check" in r.stderr
    assert "make install puts the module in" in r.stdout
    r = subprocess.run(["make", "-s", "check-have-check"], cwd=tmpdir_755,
                       capture_output=True, text=True, env={"PATH": CLEAN_PATH})
    assert r.returncode != 0 and "the unit tests need Check" in r.stderr, r.stderr


@needs_configure
def test_configure_help_documents_every_option():
    r = configure(tempfile.gettempdir(), "--help")
    for option in ("--with-apxs=PATH", "--with-python=PATH", "--with-python-sitedir=DIR",
                   "--with-apache-moddir=DIR", "--with-apache-modsdir=DIR",
                   "--without-check", "--enable-asan", "--prefix=PREFIX", "--bindir=DIR"):
        assert option in r.stdout, option
    declared = re.findall(r"AC_ARG_(WITH|ENABLE)\(\[([\w-]+)\]",
                          read_file(os.path.join(BUILD_ROOT, "configure.ac")))
    for kind, name in declared:
        assert re.search(r"--(with|without|enable|disable)-%s\b" % name, r.stdout), name
