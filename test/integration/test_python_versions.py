"""The module built against each other CPython with a shared libpython on
this machine (pyenv's 3.12 and 3.13 builds), started under prefork and
event: every child starts (3.13 aborted in PyOS_AfterFork_Child() when
httpd forked without PyOS_BeforeFork()), serves, and reloads.

pyenv keeps its builds in root's home, which httpd's user cannot read: each
is copied once to /opt/mod_python-test-pythons.  A version that is not
installed is skipped.  scripts/matrix.py runs every test against every
version.
"""
import os
import shutil
import sys
import tempfile

import pytest

from harness import ROOT, Httpd, edit_visible, one_child

sys.path.insert(0, os.path.join(ROOT, "scripts"))
import pythons  # noqa: E402  (finds, copies and builds: shared with scripts/matrix.py)

BUILDS = pythons.pyenv_builds()


@pytest.fixture(scope="module", params=sorted(BUILDS) or [None])
def module_for(request):
    """(minor version, prefix, path of mod_python.so built against it)."""
    if request.param is None:
        pytest.skip("no pyenv build of %s with a shared libpython here" % " or ".join(pythons.WANTED))
    minor = request.param
    prefix = pythons.readable_copy(BUILDS[minor])
    tree = tempfile.mkdtemp(prefix="mp-build-py%s-" % minor)
    try:
        yield minor, prefix, pythons.build(tree, minor, prefix)
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
