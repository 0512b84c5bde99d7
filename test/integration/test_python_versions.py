"""The module built against each other CPython with a shared libpython on
this machine (pyenv's 3.12 and 3.13 builds), started under prefork and
event: every child starts (3.13 aborted in PyOS_AfterFork_Child() when
httpd forked without PyOS_BeforeFork()), serves, and reloads.

pyenv keeps its builds in root's home, which httpd's user cannot read: each
is copied once to PREFIX.  A version that is not installed is skipped.
The full matrix (every test against every version) is issue 15's.
"""
import glob
import os
import shutil
import subprocess
import tempfile

import pytest

from harness import ROOT, Httpd, edit_visible, one_child

PREFIX = "/opt/mod_python-test-pythons"
WANTED = ("3.12", "3.13")


def pyenv_builds():
    root = os.environ.get("PYENV_ROOT") or os.path.expanduser("~/.pyenv")
    found = {}
    for d in sorted(glob.glob(os.path.join(root, "versions", "3.*"))):
        minor = ".".join(os.path.basename(d).split(".")[:2])
        if minor in WANTED and glob.glob(os.path.join(d, "lib", "libpython%s.so*" % minor)):
            found[minor] = d
    return found


BUILDS = pyenv_builds()


def readable_copy(src):
    """`src` copied under PREFIX, readable by everyone (once)."""
    dst = os.path.join(PREFIX, os.path.basename(src))
    if not os.path.exists(os.path.join(dst, ".complete")):
        shutil.rmtree(dst, ignore_errors=True)
        os.makedirs(PREFIX, exist_ok=True)
        subprocess.run(["cp", "-a", src, dst], check=True)
        subprocess.run(["chmod", "-R", "a+rX", dst], check=True)
        open(os.path.join(dst, ".complete"), "w").close()
    return dst


@pytest.fixture(scope="module", params=sorted(BUILDS) or [None])
def module_for(request):
    """(minor version, prefix, path of mod_python.so built against it)."""
    if request.param is None:
        pytest.skip("no pyenv build of %s with a shared libpython here" % " or ".join(WANTED))
    minor = request.param
    prefix = readable_copy(BUILDS[minor])
    tree = tempfile.mkdtemp(prefix="mp-build-py%s-" % minor)
    try:
        files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, check=True,
                               capture_output=True).stdout.split(b"\0")
        subprocess.run(["cp", "--parents", "-t", tree] + [f.decode() for f in files if f],
                       cwd=ROOT, check=True)
        run = lambda *cmd: subprocess.run(cmd, cwd=tree, check=True, capture_output=True)
        run("autoconf")
        run("./configure", "-q", "--with-python=%s/bin/python%s" % (prefix, minor))
        # python3-config of a copied build names its original lib directory
        lib = os.path.join(prefix, "lib")
        out = subprocess.run(["make", "PY_LIBDIR=" + lib,
                              "PY_LIBS=-L%s -lpython%s -ldl -lm" % (lib, minor),
                              "WARN=-Wall -Wextra -Wno-unused-parameter "
                              "-Wno-missing-field-initializers -Werror"],
                             cwd=tree, capture_output=True, text=True)
        assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
        assert "warning:" not in out.stdout + out.stderr, out.stderr[-3000:]
        yield minor, prefix, os.path.join(tree, "src", ".libs", "mod_python.so")
    finally:
        shutil.rmtree(tree, ignore_errors=True)


HANDLER = """import sys
from mod_python import apache
V = {v}
def handler(req):
    req.write("%d.%d %d" % (sys.version_info[0], sys.version_info[1], V))
    return apache.OK
"""


@pytest.mark.parametrize("mpm", ["prefork", "event"])
def test_children_start_serve_and_reload(module_for, mpm):
    minor, prefix, so = module_for
    h = Httpd(mpm)
    try:
        h.write("htdocs/app/handler.py", HANDLER.format(v=1))
        app = h.path("htdocs", "app")
        h.config("PythonHome %s\n<Directory %s>\n    SetHandler mod_python\n"
                 "    PythonHandler handler\n</Directory>\n" % (prefix, app),
                 mpm_settings=one_child(mpm), python_module=so)
        h.start()
        assert h.get("/app/x").text == "%s 1" % minor
        edit_visible(os.path.join(app, "handler.py"), HANDLER.format(v=2))
        assert h.get("/app/x").text == "%s 2" % minor
        h.graceful()
        assert h.get("/app/x").text == "%s 2" % minor
        log = h.log()
        assert "Fatal Python error" not in log and "exit signal" not in log, log[-3000:]
    finally:
        h.cleanup()
