"""The importer against a real httpd, editing files between requests.

Each test names the problem of "Module Importing Is Broken" (the ISSUE n
list of spec 002) or the hook of spec 003 it guards against.  Servers run
one child process (ServerLimit 1) so that what a test counts is the state
of one process: the event MPM with 16 threads, and prefork.
"""
import json
import os
import re
import threading

import pytest

from harness import edit_visible, one_child, wait_for

INFO = """
import json, os, sys
from mod_python import apache
def info(req, **extra):
    cache = apache.module_cache()
    d = {"pid": os.getpid(),
         "loads": {os.path.basename(k): v["load_count"] for k, v in cache.items()},
         "sys_path": sys.path}
    d.update(extra)
    req.content_type = "application/json"
    req.write(json.dumps(d))
    return apache.OK
"""

DEFAULT_CONF = """
<Directory {app}>
    SetHandler mod_python
    PythonHandler handler
</Directory>
"""


@pytest.fixture(params=["event", "prefork"])
def mk(request, httpd_factory):
    """mk(files, conf=...) -> a started server with files under htdocs/app."""
    def make(files, conf=DEFAULT_CONF, opts=""):
        h = httpd_factory(request.param)
        h.write("htdocs/app/info.py", INFO)
        for name, text in files.items():
            h.write(name if "/" in name else "htdocs/app/" + name, text)
        h.app = h.path("htdocs", "app")
        h.config((opts + conf).format(app=h.app, root=h.root, htdocs=h.htdocs),
                 mpm_settings=one_child(request.param, 25))
        h.start()
        return h
    return make


def edit(h, name, text):
    """Rewrite a file so that its change is visible (size and mtime)."""
    edit_visible(name if name.startswith("/") else os.path.join(h.app, name), text)


def js(h, path="/app/x", **kw):
    r = h.get(path, **kw)
    assert r.status == 200, (r.status, r.body, h.log()[-3000:])
    return json.loads(r.body)


HANDLER_WITH_CHILD = """
import child
from child import VALUE
import info
def handler(req):
    return info.info(req, value=VALUE, via_module=child.VALUE)
"""


def test_issue8_and_issue10_child_change_reloads_parent(mk):
    h = mk({"handler.py": HANDLER_WITH_CHILD, "child.py": "VALUE = 1\n"})
    d = js(h)
    assert d["value"] == 1 and d["via_module"] == 1
    edit(h, "child.py", "VALUE = 2\n")
    d = js(h)
    assert d["value"] == 2, "from child import VALUE is stale (ISSUE 10)"
    assert d["via_module"] == 2, "the parent was not reloaded (ISSUE 8)"
    assert d["loads"]["handler.py"] == 2 and d["loads"]["child.py"] == 2


def test_deep_chain_reloads_each_changed_path_once(mk):
    h = mk({"handler.py": "import a, info\ndef handler(req): return info.info(req, v=a.b.c.V)\n",
            "a.py": "import b\n", "b.py": "import c\n", "c.py": "V = 1\n"})
    assert js(h)["v"] == 1
    edit(h, "c.py", "V = 2\n")
    d = js(h)
    assert d["v"] == 2
    assert [d["loads"][f] for f in ("handler.py", "a.py", "b.py", "c.py")] == [2, 2, 2, 2]
    d = js(h)
    assert d["loads"]["c.py"] == 2, "reloaded again without a change"


def test_issue3_log_words_pid_interpreter(mk):
    h = mk({"handler.py": HANDLER_WITH_CHILD, "child.py": "VALUE = 1\n"},
           opts="PythonDebug On\n")
    pid = js(h)["pid"]
    edit(h, "child.py", "VALUE = 2\n")
    js(h)
    log = h.log()
    pre = "mod_python (pid=%d, interpreter='localhost'): " % pid
    assert pre + "Importing module '%s/handler.py'" % h.app in log
    assert pre + "Importing module '%s/child.py'" % h.app in log
    assert pre + "Reimporting module '%s/child.py'" % h.app in log
    assert pre + "Reimporting module '%s/handler.py'" % h.app in log


def test_issue1_issue2_logging_from_config_at_module_scope(mk):
    """import_module() at module scope, without log=, follows the config;
    mod_python.importer.log On logs without PythonDebug."""
    files = {"handler.py": "from mod_python import apache\nimport info\n"
                           "helper = apache.import_module('helper')\n"
                           "def handler(req): return info.info(req)\n",
             "helper.py": "X = 1\n"}
    h = mk(files, opts="PythonOption mod_python.importer.log On\n")
    js(h)
    assert "Importing module '%s/helper.py'" % h.app in h.log()
    h2 = mk(files)
    js(h2)
    assert "Importing module" not in h2.log(), "logging is off by default"


def test_issue4_concurrent_requests_load_once(mk):
    h = mk({"handler.py": "import slowchild, info\n"
                          "def handler(req): return info.info(req, v=slowchild.V)\n",
            "slowchild.py": "import time\ntime.sleep(0.3)\nV = 1\n"})
    js(h)
    edit(h, "slowchild.py", "import time\ntime.sleep(0.3)\nV = 2\n")
    out = []
    ts = [threading.Thread(target=lambda: out.append(h.get("/app/x"))) for _ in range(20)]
    [t.start() for t in ts]
    [t.join() for t in ts]
    assert all(r.status == 200 for r in out)
    ds = [json.loads(r.body) for r in out]
    assert {d["v"] for d in ds} == {2}
    d = js(h)
    assert d["loads"]["slowchild.py"] == 2, "loaded more than once: %r" % d["loads"]
    assert d["loads"]["handler.py"] == 2


def test_issue5_restored_backup_with_older_mtime(mk):
    h = mk({"handler.py": "import info\nV = 'new'\ndef handler(req): return info.info(req, v=V)\n"})
    p = os.path.join(h.app, "handler.py")
    assert js(h)["v"] == "new"
    st = os.stat(p)
    with open(p, "w") as f:
        f.write("import info\nV = 'old'\ndef handler(req): return info.info(req, v=V)\n")
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns - 3600 * 10**9))
    assert js(h)["v"] == "old"


def test_atomic_rename_is_seen(mk):
    h = mk({"handler.py": "import info\nV = 1\ndef handler(req): return info.info(req, v=V)\n"})
    assert js(h)["v"] == 1
    tmp = os.path.join(h.app, ".handler.tmp")
    with open(tmp, "w") as f:
        f.write("import info\nV = 2\ndef handler(req): return info.info(req, v=V)\n")
    st = os.stat(os.path.join(h.app, "handler.py"))
    os.utime(tmp, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.rename(tmp, os.path.join(h.app, "handler.py"))
    assert js(h)["v"] == 2


def test_issue6_issue24_packages_use_the_standard_import(mk):
    files = {
        "pylib/pkg/__init__.py": "import sys\nsys.pkg_inits = getattr(sys, 'pkg_inits', 0) + 1\n",
        "pylib/pkg/a.py": "A = 1\n",
        "pylib/pkg/b.py": "B = 2\n",
        "handler.py": "import sys, info\nfrom mod_python import apache\n"
                      "def handler(req):\n"
                      "    a = apache.import_module('pkg.a')\n"
                      "    b = apache.import_module('pkg.b')\n"
                      "    import pkg\n"
                      "    return info.info(req, inits=sys.pkg_inits, linked=pkg.a is a and pkg.b is b,\n"
                      "                     ab=[a.A, b.B])\n",
    }
    h = mk(files, opts="PythonPath \"sys.path + ['{root}/pylib']\"\n")
    for _ in range(3):
        d = js(h)
        assert d["inits"] == 1 and d["linked"] and d["ab"] == [1, 2]


def test_issue7_issue18_autoreload_off(mk):
    files = {"handler.py": "from mod_python import apache\nimport info\n"
                           "h = apache.import_module('helper')\n"
                           "def handler(req): return info.info(req, v=h.V,\n"
                           "    again=apache.import_module('helper').V)\n",
             "helper.py": "V = 1\n"}
    h = mk(files, opts="PythonAutoReload Off\n")
    assert js(h)["v"] == 1
    edit(h, "helper.py", "V = 2\n")
    edit(h, "handler.py", files["handler.py"] + "# edited\n")
    d = js(h)
    assert d["v"] == 1 and d["again"] == 1, "reloaded with PythonAutoReload Off"


def test_issue9_handler_dir_not_on_sys_path_one_instance(mk):
    files = {"handler.py": "import sys, helper, info\nfrom mod_python import apache\n"
                           "APP = __file__.rsplit('/', 1)[0]\n"
                           "def handler(req):\n"
                           "    same = apache.import_module('helper', path=[APP]) is helper\n"
                           "    same2 = apache.import_module(APP + '/helper.py') is helper\n"
                           "    on_path = APP in sys.path or APP + '/' in sys.path\n"
                           "    return info.info(req, same=same and same2, on_path=on_path,\n"
                           "                     in_sys_modules='helper' in sys.modules)\n",
             "helper.py": "X = 1\n"}
    h = mk(files)
    d = js(h)
    assert d["same"] and not d["on_path"] and not d["in_sys_modules"]
    assert d["loads"]["helper.py"] == 1


def test_issue12_issue13_fresh_module_object(mk):
    h = mk({"handler.py": "import info\nOLD = 1\n"
                          "def handler(req): return info.info(req, has_old='OLD' in globals())\n"})
    assert js(h)["has_old"] is True
    edit(h, "handler.py", "import info\n"
                          "def handler(req): return info.info(req, has_old='OLD' in globals())\n")
    assert js(h)["has_old"] is False


def test_issue14_same_name_two_directories_one_interpreter(mk):
    files = {"htdocs/one/common.py": "WHERE = 'one'\n",
             "htdocs/two/common.py": "WHERE = 'two'\n",
             "htdocs/one/handler.py": "import common, info\n"
                                      "def handler(req): return info.info(req, where=common.WHERE)\n",
             "htdocs/two/handler.py": "import common, info\n"
                                      "def handler(req): return info.info(req, where=common.WHERE)\n"}
    conf = """
        PythonInterpreter shared
        PythonOption mod_python.importer.path "['{app}']"
        <Directory {htdocs}/one>
            SetHandler mod_python
            PythonHandler handler
        </Directory>
        <Directory {htdocs}/two>
            SetHandler mod_python
            PythonHandler handler
        </Directory>
    """
    h = mk(files, conf=conf)
    for _ in range(3):
        assert js(h, "/one/x")["where"] == "one"
        d = js(h, "/two/x")
        assert d["where"] == "two"
    cache = d["loads"]
    assert cache["common.py"] == 1, "alternating requests reloaded a module"


@pytest.mark.parametrize("autoreload", ["On", "Off"])
def test_one_handler_two_search_paths(mk, autoreload):
    """The same configured handler, found through mod_python.importer.path,
    resolves afresh where that option differs (the handler's remembered
    import is per search path), with and without checking."""
    which = "def handler(req):\n    req.write(%r)\n    return 0\n"
    files = {"htdocs/pa/which.py": which % "a", "htdocs/pb/which.py": which % "b",
             "htdocs/m/a/keep": "", "htdocs/m/b/keep": ""}
    conf = """
        PythonAutoReload %s
        <Directory {htdocs}/m>
            SetHandler mod_python
            PythonHandler which
        </Directory>
        <Directory {htdocs}/m/a>
            PythonOption mod_python.importer.path "['{htdocs}/pa']"
        </Directory>
        <Directory {htdocs}/m/b>
            PythonOption mod_python.importer.path "['{htdocs}/pb']"
        </Directory>
    """ % autoreload
    h = mk(files, conf=conf)
    for _ in range(4):
        for where in "ab":
            r = h.get("/m/%s/x" % where)
            assert (r.status, r.body) == (200, where.encode()), (r.status, r.body, h.log()[-2000:])


def test_issue15_issue16_issue22_python_path_does_not_grow(mk):
    files = {"handler.py": "import sys, info\n"
                           "def handler(req): return info.info(req, n=[sys.path.count(x) for x in "
                           "('/extra/a', '/extra/b', '/extra/g')])\n",
             "imported.py": "X = 1\n"}
    conf = """
        PythonPath "sys.path + ['/extra/g']"
        PythonInterpreter shared
        PythonImport {app}/imported.py shared
        <Directory {app}>
            SetHandler mod_python
            PythonHandler handler
        </Directory>
        <Location /a>
            PythonPath "sys.path + ['/extra/a']"
        </Location>
        <Location /b>
            PythonPath "sys.path + ['/extra/b']"
        </Location>
        Alias /a {app}
        Alias /b {app}
    """
    h = mk(files, conf=conf)
    for _ in range(5):
        for p in ("/a/x", "/b/x", "/app/x"):
            d = js(h, p)
            assert all(n <= 1 for n in d["n"]), (p, d["n"])
    assert d["n"][2] == 1, "the global PythonPath was applied more than once"


def test_issue17_pythonimport_then_import_module_loads_once(mk):
    files = {"preloaded.py": "import sys\nsys.preload_runs = getattr(sys, 'preload_runs', 0) + 1\n"
                             "def init():\n    sys.init_called = True\n",
             "handler.py": "import sys, info\nfrom mod_python import apache\n"
                           "def handler(req):\n"
                           "    apache.import_module(%r)\n"
                           "    return info.info(req, runs=sys.preload_runs, init=sys.init_called)\n"}
    conf = DEFAULT_CONF + "PythonImport {app}/preloaded.py::init localhost\nPythonAutoReload Off\n"
    h = mk({"preloaded.py": files["preloaded.py"], "handler.py": "pass\n"}, conf=conf)
    edit(h, "handler.py", files["handler.py"] % (h.app + "/preloaded.py"))
    # PythonAutoReload Off: the edited handler is loaded on first use only.
    d = js(h)
    assert d["runs"] == 1 and d["init"] is True
    assert d["loads"]["preloaded.py"] == 1


def test_issue19_clone_and_purge_hooks(mk):
    v1 = ("import threading, info\n"
          "if '_data' not in globals():\n    _lock = threading.Lock(); _data = {'n': 0}\n"
          "def __mp_clone__(new):\n    with _lock:\n        new._lock = _lock; new._data = _data\n"
          "def handler(req):\n    with _lock:\n        _data['n'] += 1\n"
          "    return info.info(req, n=_data['n'], version=VERSION)\n")
    v2 = ("import threading, info\n"
          "if '_data' not in globals():\n    _lock = threading.Lock(); _data = {'n': 0}\n"
          "def __mp_clone__(new):\n    raise RuntimeError('refuse')\n"
          "def __mp_purge__():\n    open(PURGED, 'w').write('purged')\n"
          "def handler(req):\n    with _lock:\n        _data['n'] += 1\n"
          "    return info.info(req, n=_data['n'], version=VERSION)\n")
    h = mk({"handler.py": "VERSION = 1\n" + v1},
           opts="PythonOption mod_python.importer.log On\n")
    purged = h.path("logs", "purged")
    assert js(h)["n"] == 1 and js(h)["n"] == 2
    edit(h, "handler.py", "VERSION = 2\nPURGED = %r\n" % purged + v2)
    d = js(h)
    assert d["version"] == 2 and d["n"] == 3, "state not carried by __mp_clone__"
    assert "Cloned module '%s/handler.py'" % h.app in h.log()
    edit(h, "handler.py", "VERSION = 3\n" + v1)
    d = js(h)
    assert d["version"] == 3 and d["n"] == 1, "a failed clone must start fresh"
    assert open(purged).read() == "purged"
    log = h.log()
    assert "__mp_clone__ failed, purging module '%s/handler.py'" % h.app in log
    assert "RuntimeError: refuse" in log


def test_issue20_one_instance_for_handler_and_import_module(mk):
    files = {"handler.py": "import info\nfrom mod_python import apache\nSTATE = []\n"
                           "def handler(req):\n"
                           "    me = apache.import_module('~/handler.py')\n"
                           "    other = apache.import_module('~/other.py')\n"
                           "    return info.info(req, same=me.STATE is STATE and other.h.STATE is STATE)\n",
             "other.py": "import handler as h\n"}
    h = mk(files)
    assert js(h)["same"] is True


def test_issue21_one_version_per_request(mk):
    files = {"handler.py": "import info, time\nfrom mod_python import apache\n"
                           "def handler(req):\n"
                           "    a = apache.import_module('~/mid.py')\n"
                           "    open(req.get_options()['flag'], 'w').write('go')\n"
                           "    time.sleep(0.5)\n"
                           "    b = apache.import_module('~/mid.py')\n"
                           "    return info.info(req, same=a is b, v=[a.V, b.V])\n",
             "mid.py": "V = 1\n"}
    flag = "/tmp/mp-flag-%d" % os.getpid()
    h = mk(files, opts="PythonOption flag %s\n" % flag)
    if os.path.exists(flag):
        os.unlink(flag)
    out = []
    t = threading.Thread(target=lambda: out.append(js(h)))
    t.start()
    assert wait_for(lambda: os.path.exists(flag))
    edit(h, "mid.py", "V = 2\n")
    t.join()
    os.unlink(flag)
    assert out[0]["same"] is True and out[0]["v"] == [1, 1]
    assert js(h)["loads"]["mid.py"] == 2


def test_issue23_freeze_modules_via_pythonimport(mk):
    h = mk({"handler.py": "import info\nV = 1\ndef handler(req): return info.info(req, v=V)\n"},
           conf=DEFAULT_CONF + "PythonImport mod_python.apache::freeze_modules localhost\n")
    assert js(h)["v"] == 1
    edit(h, "handler.py", "import info\nV = 2\ndef handler(req): return info.info(req, v=V)\n")
    assert js(h)["v"] == 1, "frozen interpreter reloaded"


def test_pythonimport_errors_logged_and_next_runs(mk):
    conf = DEFAULT_CONF + """
        PythonImport {app}/broken.py localhost
        PythonImport {app}/good.py::start localhost
    """
    h = mk({"broken.py": "raise ValueError('import-time failure')\n",
            "good.py": "import sys\ndef start():\n    sys.good_started = True\n",
            "handler.py": "import sys, info\n"
                          "def handler(req): return info.info(req, ok=getattr(sys, 'good_started', False))\n"},
           conf=conf)
    assert js(h)["ok"] is True
    log = h.log()
    assert re.search(r"PythonImport .*/broken.py \(.*httpd.conf:\d+\): ValueError: import-time failure", log), log


def test_syntax_error_keeps_last_good_version(mk):
    good = "import info\nV = 1\ndef handler(req): return info.info(req, v=V)\n"
    h = mk({"handler.py": good})
    assert js(h)["v"] == 1
    edit(h, "handler.py", "def handler(req:\n")
    r = h.get("/app/x")
    assert r.status == 500 and b"SyntaxError" not in r.body
    assert "SyntaxError" in h.log()
    edit(h, "handler.py", good.replace("V = 1", "V = 3"))
    assert js(h)["v"] == 3


def test_deleted_file_keeps_serving(mk):
    h = mk({"handler.py": "import helper, info\ndef handler(req): return info.info(req, v=helper.V)\n",
            "helper.py": "V = 7\n"})
    assert js(h)["v"] == 7
    os.unlink(os.path.join(h.app, "helper.py"))
    assert js(h)["v"] == 7
    assert "Module file removed, keeping the cached module '%s/helper.py'" % h.app in h.log()


def test_readme_worked_example(mk):
    handler = open(os.path.join(os.path.dirname(__file__), "..", "..", "README")).read()
    code = handler.split("A worked example.  /srv/www/app/handler.py:\n\n")[1]
    handler_src = "\n".join(l[4:] for l in code.split("\nand /srv/www/app/helper.py:")[0].splitlines())
    helper_src = "\n".join(l[4:] for l in code.split("and /srv/www/app/helper.py:\n\n")[1]
                           .split("\nEdit helper.py")[0].splitlines())
    h = mk({"handler.py": handler_src, "helper.py": helper_src})
    assert h.get("/app/x").text == "Hello from localhost (1)\n"
    edit(h, "helper.py", helper_src.replace("Hello from", "Hi from"))
    assert h.get("/app/x").text == "Hi from localhost (2)\n"


def test_notify_off_option_falls_back_to_stat(mk):
    """PythonOption mod_python.importer.notify Off (NFS): stat() only, and
    changes are still seen."""
    src = "import _apache, info\nV = {v}\ndef handler(req): return info.info(req, v=V, notify=_apache.importer.notify)\n"
    h = mk({"handler.py": src.format(v=1)}, opts="PythonOption mod_python.importer.notify Off\n")
    d = js(h)
    assert d["notify"] is False and d["v"] == 1
    edit(h, "handler.py", src.format(v=22))
    assert js(h)["v"] == 22
    h2 = mk({"handler.py": src.format(v=1)})
    assert js(h2)["notify"] is True
