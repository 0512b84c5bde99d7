"""The importer's section of mod_status's /server-status page (issue 14
item 7): per interpreter of the process serving the page, its cached
modules with generation, loads, hits, children and last error, as HTML
(tables, or none with ?notable) and in the ?auto form.  Without mod_status
loaded the server starts and serves Python as before.

One child process (ServerLimit 1), and every request of a test on one
keep-alive connection: the status page describes the process that served
the handler.  prefork and event.
"""
import http.client
import os
import re
from urllib.parse import unquote

import pytest

from harness import edit_visible, one_child

HANDLER = """
import os
import helper
from mod_python import apache
def handler(req):
    req.content_type = "text/plain"
    req.write("pid=%d v=%s" % (os.getpid(), helper.V))
    return apache.OK
"""

CONF = """
<Location /server-status>
    SetHandler server-status
</Location>
<Directory "{app}">
    SetHandler mod_python
    PythonHandler handler
    PythonInterpreter "{interp}"
</Directory>
"""

# Names and paths that HTML must escape, and a space the ?auto form must.
APP_DIR = "app&co"
INTERP = "my <i>app</i>"


class Client:
    """One keep-alive connection: one process serves its requests."""

    def __init__(self, h):
        self.h = h
        self.conn = http.client.HTTPConnection("127.0.0.1", h.port, timeout=30)

    def get(self, path, status=200):
        self.conn.request("GET", path)
        r = self.conn.getresponse()
        body = r.read().decode("utf-8", "replace")
        assert r.status == status, (path, r.status, body[-2000:], self.h.log()[-3000:])
        # httpd closes after a 500; the next request opens anew (and meets
        # the same child: there is one)
        assert status == 500 or not r.will_close, "the connection was not kept alive"
        return body

    def auto(self):
        """The ?auto form: (fields, {interp: info}, {basename: info})."""
        fields, interps, mods = {}, {}, {}
        for line in self.get("/server-status?auto").splitlines():
            key, _, val = line.partition(": ")
            if key == "PythonModule":
                head, _, path = val.partition(" path=")
                d = dict(kv.split("=", 1) for kv in head.split())
                d["path"] = unquote(path)
                mods[os.path.basename(d["path"])] = d
            elif key == "PythonInterpreter":
                d = dict(kv.split("=", 1) for kv in val.split())
                interps[unquote(d["name"])] = d
            elif key.startswith("Python"):
                fields[key] = val
        return fields, interps, mods

    def section(self, query=""):
        """The HTML page from mod_python's heading on."""
        page = self.get("/server-status" + query)
        assert page.count("<h2>mod_python</h2>") == 1, page[-3000:]
        return page[page.index("<h2>mod_python</h2>"):]


@pytest.fixture(params=["prefork", "event"])
def srv(request, httpd_factory):
    h = httpd_factory(request.param)
    h.app = h.path("htdocs", APP_DIR)
    h.write("htdocs/%s/handler.py" % APP_DIR, HANDLER)
    h.write("htdocs/%s/helper.py" % APP_DIR, "V = 1\n")
    h.config(CONF.format(app=h.app, interp=INTERP), modules=["status"],
             mpm_settings=one_child(request.param, 4))
    h.start()
    return h


def edit(h, name, text):
    """Rewrite a file so that its change is visible (size and mtime)."""
    edit_visible(os.path.join(h.app, name), text)


def test_auto_lists_modules_and_their_reloads(srv):
    c = Client(srv)
    fields, interps, mods = c.auto()
    assert fields["PythonInterpreters"] == "0" and fields["PythonModules"] == "0"
    assert not mods
    pid = re.match(r"pid=(\d+) v=1$", c.get("/%s/x" % APP_DIR)).group(1)
    fields, interps, mods = c.auto()
    assert fields["PythonPid"] == pid
    assert fields["PythonInterpreters"] == "1" and fields["PythonModules"] == "2"
    assert fields["PythonLoads"] == "2" and fields["PythonFailed"] == "0"
    assert list(interps) == [INTERP] and interps[INTERP]["modules"] == "2"
    assert interps[INTERP]["watcher"] in ("inotify", "stat")
    hnd, hlp = mods["handler.py"], mods["helper.py"]
    assert hnd["path"] == os.path.join(srv.app, "handler.py")
    assert unquote(hnd["interp"]) == INTERP and "%20" in hnd["interp"]
    assert (hnd["loads"], hnd["children"], hnd["failed"]) == ("1", "1", "0")
    assert (hlp["loads"], hlp["children"], hlp["failed"]) == ("1", "0", "0")

    for _ in range(3):
        c.get("/%s/x" % APP_DIR)
    hits = int(c.auto()[2]["handler.py"]["hits"])
    assert hits > int(hnd["hits"]), "hits do not count"

    edit(srv, "helper.py", "V = 2\n")
    assert c.get("/%s/x" % APP_DIR).endswith("v=2")
    fields, interps, mods = c.auto()
    assert fields["PythonLoads"] == "4"
    for name, before in (("handler.py", hnd), ("helper.py", hlp)):
        assert mods[name]["loads"] == "2", (name, mods[name])
        assert int(mods[name]["generation"]) > int(before["generation"]), name


def test_html_table_escapes_and_shows_the_last_error(srv):
    c = Client(srv)
    c.get("/%s/x" % APP_DIR)
    page = c.section()
    assert "Interpreter my &lt;i&gt;app&lt;/i&gt;" in page and "<i>" not in page
    for name in ("handler.py", "helper.py"):
        row = "<tr><td>%s/%s</td>" % (srv.htdocs, "app&amp;co/" + name)
        assert row in page, page
    assert "app&co" not in page
    assert "1 interpreters, 2 modules cached" in page
    # file, generation, loads, hits, children, last error
    assert re.search(r"/handler\.py</td><td>\d+</td><td>1</td><td>\d+</td><td>1</td>"
                     r"<td></td></tr>", page), page
    assert re.search(r"/helper\.py</td><td>\d+</td><td>1</td><td>\d+</td><td>0</td>"
                     r"<td></td></tr>", page), page

    edit(srv, "helper.py", "raise ValueError('<b>bad</b> & more')\nV = 3\n")
    c.get("/%s/x" % APP_DIR, status=500)
    page = c.section()
    assert "<b>bad" not in page
    err = "ValueError: &lt;b&gt;bad&lt;/b&gt; &amp; more"
    assert re.search(r"/helper\.py</td>(<td>\d+</td>){4}<td>%s</td></tr>" % err, page), page
    assert "1 failed" in page
    mods = c.auto()[2]
    assert mods["helper.py"]["failed"] == "1" and mods["helper.py"]["loads"] == "1"

    # An error text that has no UTF-8 bytes still renders (its ascii()).
    edit(srv, "helper.py", "raise ValueError('\\ud800 <b>odd</b>')\n")
    c.get("/%s/x" % APP_DIR, status=500)
    page = c.section()
    assert "\\ud800 &lt;b&gt;odd&lt;/b&gt;" in page and "<b>odd" not in page

    edit(srv, "helper.py", "V = 4\n")
    assert c.get("/%s/x" % APP_DIR).endswith("v=4")
    page = c.section()
    assert "0 failed" in page and "&lt;b&gt;" not in page, "the error outlived the fix"


def test_notable_lists_without_tables(srv):
    c = Client(srv)
    c.get("/%s/x" % APP_DIR)
    page = c.section("?notable")
    assert "<table" not in page
    assert "<dt>%s/app&amp;co/helper.py</dt><dd>generation " % srv.htdocs in page
    assert ", loads 1, hits " in page and ", children 1</dd>" in page


@pytest.mark.parametrize("mpm", ["prefork", "event"])
def test_without_mod_status_python_still_serves(httpd_factory, mpm):
    h = httpd_factory(mpm)
    h.app = h.path("htdocs", APP_DIR)
    h.write("htdocs/%s/handler.py" % APP_DIR, HANDLER)
    h.write("htdocs/%s/helper.py" % APP_DIR, "V = 1\n")
    h.config(CONF.replace("SetHandler server-status", "").format(app=h.app, interp=INTERP),
             mpm_settings=one_child(mpm, 4))
    ok, out = h.configtest()
    assert ok, out
    h.start()
    c = Client(h)
    assert c.get("/%s/x" % APP_DIR).endswith("v=1")
    edit(h, "helper.py", "V = 2\n")
    assert c.get("/%s/x" % APP_DIR).endswith("v=2")
    c.get("/server-status", status=404)
    assert "MP00040" not in h.log()
