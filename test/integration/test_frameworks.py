"""Real applications through PythonHandler mod_python.wsgi, under event and
prefork: a Flask application in a file (loaded by mod_python's importer), a
Flask application as a package and a Django project (SQLite, a form with
CSRF, the admin) with mod_python.wsgi.reload On.  Pages, POST forms,
cookies, uploads, streaming, static files served by httpd beside them, and
an edited view taking effect on the next request, also while other requests
run."""
import hashlib
import http.client
import json
import os
import pwd
import re
import socket
import subprocess
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import pytest

from harness import RUN_USER, Httpd, needs_system_packages, one_child, wait_for

pytestmark = needs_system_packages("flask", "django")

DATA = os.urandom(300000)
ADMIN_PASSWORD = "correct horse battery"


def django_manage(h, *args):
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": h.path("djproject"), "LANG": "C.UTF-8",
           "DJANGO_SUPERUSER_PASSWORD": ADMIN_PASSWORD}
    subprocess.run(["/usr/bin/python3", "manage.py"] + list(args), cwd=h.path("djproject"),
                   env=env, check=True, capture_output=True, timeout=120)


@pytest.fixture(scope="module", params=["event", "prefork"])
def srv(request):
    h = Httpd(request.param)
    try:
        h.config(h.install_app("frameworks"), mpm_settings=one_child(request.param))
        # the SQLite database, writable by httpd's user (and its directory:
        # SQLite writes its journal beside it)
        django_manage(h, "migrate", "-v0")
        django_manage(h, "createsuperuser", "--noinput", "--username", "admin",
                      "--email", "admin@example.com")
        user = pwd.getpwnam(RUN_USER)
        for p in (h.path("djdata"), h.path("djdata", "db.sqlite3")):
            os.chown(p, user.pw_uid, user.pw_gid)
        with open(h.path("flaskapp", "files", "data.bin"), "wb") as f:
            f.write(DATA)
        os.chmod(h.path("flaskapp", "files", "data.bin"), 0o644)
        h.start()
        yield h
    finally:
        h.cleanup()


class Client:
    """Requests with a cookie jar (what a browser keeps between pages)."""

    def __init__(self, srv):
        self.srv = srv
        self.cookies = {}

    def request(self, path, method="GET", form=None, body=None, headers=None):
        h = dict(headers or {})
        if form is not None:
            body = urllib.parse.urlencode(form, doseq=True).encode()
            h["Content-Type"] = "application/x-www-form-urlencoded"
        if self.cookies:
            h["Cookie"] = "; ".join("%s=%s" % kv for kv in self.cookies.items())
        r = self.srv.request(path, method=method, body=body, headers=h)
        for c in r.headers.get_all("Set-Cookie") or []:
            name, _, rest = c.partition("=")
            self.cookies[name.strip()] = rest.split(";")[0]
        return r


def edit(path, old, new):
    """Change a source file as an editor saving it would (a new file
    renamed over the old one)."""
    with open(path) as f:
        text = f.read()
    assert old in text, (old, path)
    tmp = path + ".new"
    with open(tmp, "w") as f:
        f.write(text.replace(old, new))
    os.chmod(tmp, 0o644)
    os.replace(tmp, path)


def h1(r):
    assert r.status == 200, (r.status, r.body[:3000])
    return re.search(rb"<h1>(.*?)</h1>", r.body).group(1).decode()


def served_by_httpd(r, path):
    """A static file as httpd's core handler serves it: the file's bytes,
    with its ETag and Last-Modified."""
    with open(path, "rb") as f:
        assert r.status == 200 and r.body == f.read()
    assert r.headers.get("ETag") and r.headers.get("Last-Modified")
    assert r.headers.get("Accept-Ranges") == "bytes"


def hammer_while(srv, path, action, threads=4):
    """Run `action` while `threads` clients request `path` in a loop:
    the set of (status, body) they saw."""
    stop = []

    def loop(_):
        seen = set()
        while not stop:
            r = srv.request(path)
            seen.add((r.status, r.body))
        return seen

    with ThreadPoolExecutor(threads) as pool:
        futures = [pool.submit(loop, i) for i in range(threads)]
        try:
            action()
        finally:
            time.sleep(0.2)
            stop.append(1)
        return set().union(*[f.result() for f in futures])


# ================================================================ Flask, a file

def test_flask_page_from_a_template(srv):
    r = srv.request("/flask/")
    assert h1(r) == "Hello from Flask"
    assert b"<p>&lt;escaped&gt;</p>" in r.body
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"


def test_flask_static_file_served_by_httpd(srv):
    served_by_httpd(srv.request("/flask/static/style.css"), srv.path("flaskapp", "static",
                                                                      "style.css"))


def test_flask_post_form(srv):
    c = Client(srv)
    r = c.request("/flask/form", "POST", form={"name": "Zoë", "color": ["red", "blue"]})
    assert r.status == 200 and "<p>Hello Zoë: red,blue</p>" in r.body.decode()


def test_flask_upload(srv):
    boundary = "----mpboundary"
    body = (("--%s\r\nContent-Disposition: form-data; name=\"field\"\r\n\r\nvalue\r\n"
             "--%s\r\nContent-Disposition: form-data; name=\"data\"; filename=\"d.bin\"\r\n"
             "Content-Type: application/octet-stream\r\n\r\n") % (boundary, boundary)).encode()
    body += DATA + ("\r\n--%s--\r\n" % boundary).encode()
    r = srv.request("/flask/upload", "POST", body=body,
                    headers={"Content-Type": "multipart/form-data; boundary=" + boundary})
    assert r.status == 200, r
    assert json.loads(r.body) == {"filename": "d.bin", "size": len(DATA), "field": "value",
                                  "sha256": hashlib.sha256(DATA).hexdigest()}


def test_flask_chunked_request_body(srv):
    # no Content-Length: werkzeug reads it because wsgi.input_terminated
    boundary = "----mpchunks"
    body = (("--%s\r\nContent-Disposition: form-data; name=\"data\"; filename=\"c.bin\"\r\n"
             "\r\n") % boundary).encode() + DATA[:100000] + ("\r\n--%s--\r\n" % boundary).encode()
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    try:
        c.request("POST", "/flask/upload", body=(body[i:i + 7000] for i in range(0, len(body), 7000)),
                  headers={"Content-Type": "multipart/form-data; boundary=" + boundary},
                  encode_chunked=True)
        r = c.getresponse()
        assert r.status == 200
        d = json.loads(r.read())
    finally:
        c.close()
    assert d["size"] == 100000 and d["sha256"] == hashlib.sha256(DATA[:100000]).hexdigest()


def test_flask_session_cookie(srv):
    c = Client(srv)
    assert c.request("/flask/count").body == b"count 1"
    assert "session" in c.cookies
    assert c.request("/flask/count").body == b"count 2"
    assert Client(srv).request("/flask/count").body == b"count 1"


def test_flask_send_file(srv):
    r = srv.request("/flask/file")
    assert r.status == 200 and r.body == DATA
    assert r.headers["Content-Length"] == str(len(DATA))


def test_flask_streamed_response(srv):
    gate = srv.path("flaskapp", "files", "gate-%d" % time.monotonic_ns())
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
    try:
        s.sendall(b"GET /flask/stream?gate=%s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
                  % urllib.parse.quote(gate).encode())
        got = b""
        deadline = time.time() + 8
        while b"first piece" not in got and time.time() < deadline:
            got += s.recv(65536)
        assert b"first piece" in got and b"second" not in got, got
        open(gate, "w").close()
        while True:
            more = s.recv(65536)
            if not more:
                break
            got += more
    finally:
        s.close()
    assert b"second piece, gate seen" in got


def test_flask_environ_and_urls(srv):
    d = json.loads(srv.request("/flask/environ").body)
    assert d["script_name"] == "/flask" and d["path_info"] == "/environ"
    assert d["url"] == "/flask/form" and d["errors"] == "ErrorLog"
    assert d["multithread"] is (srv.mpm != "prefork")


def test_flask_errors_go_to_the_error_log(srv):
    assert srv.request("/flask/log").body == b"logged"
    assert wait_for(lambda: "flask app: a line for the error log" in srv.log())
    # Flask answers 500 itself and logs the traceback to wsgi.errors
    r = srv.request("/flask/fail")
    assert r.status == 500
    assert wait_for(lambda: "ValueError: a Flask view that fails" in srv.log())
    assert "Exception on /fail [GET]" in srv.log()


def test_flask_edited_view_takes_effect(srv):
    views = srv.path("flaskapp", "views.py")
    assert h1(srv.request("/flask/")) == "Hello from Flask"
    edit(views, 'GREETING = "Hello from Flask"', 'GREETING = "Hello, edited"')
    try:
        assert h1(srv.request("/flask/")) == "Hello, edited"
    finally:
        edit(views, 'GREETING = "Hello, edited"', 'GREETING = "Hello from Flask"')
    assert h1(srv.request("/flask/")) == "Hello from Flask"


def test_flask_edit_while_requests_run(srv):
    views = srv.path("flaskapp", "views.py")
    titles = ["Hello from Flask"] + ["Edit %d" % i for i in range(1, 5)]

    def edits():
        for old, new in zip(titles, titles[1:]):
            time.sleep(0.15)
            edit(views, 'GREETING = "%s"' % old, 'GREETING = "%s"' % new)

    try:
        seen = hammer_while(srv, "/flask/", edits)
        assert {s for s, _ in seen} == {200}, seen
        assert {re.search(rb"<h1>(.*)</h1>", b).group(1).decode() for _, b in seen} <= set(titles)
        assert h1(srv.request("/flask/")) == titles[-1]
    finally:
        edit(views, 'GREETING = "%s"' % titles[-1], 'GREETING = "Hello from Flask"')


# ================================================================ Flask, a package, reload On

def test_flask_package_page(srv):
    assert h1(srv.request("/fpkg/")) == "Flask package"
    assert srv.request("/fpkg/escape").body == b"&lt;b&gt;|<i>kept</i>"


def test_flask_package_edit_reloads_the_application(srv):
    views = srv.path("flaskpkg", "flaskpkg", "views.py")
    before = json.loads(srv.request("/fpkg/modules").body)
    edit(views, 'TITLE = "Flask package"', 'TITLE = "Flask package, edited"')
    try:
        assert h1(srv.request("/fpkg/")) == "Flask package, edited"
        after = json.loads(srv.request("/fpkg/modules").body)
        # a new application, on Flask imported again; markupsafe (a C
        # extension) stays, and escaping still works across the two
        assert after["app"] != before["app"] and after["flask"] != before["flask"]
        assert after["markupsafe"] == before["markupsafe"]
        assert srv.request("/fpkg/escape").body == b"&lt;b&gt;|<i>kept</i>"
        assert wait_for(lambda: re.search(
            r"\[python:notice\].*MP00073: mod_python.wsgi \(pid=\d+, interpreter='fpkg'\): "
            r"reloading 'flaskpkg::app': .*/flaskpkg/views.py changed; \d+ modules removed",
            srv.log()))
    finally:
        edit(views, 'TITLE = "Flask package, edited"', 'TITLE = "Flask package"')
    assert h1(srv.request("/fpkg/")) == "Flask package"


def test_flask_package_broken_edit_then_fixed(srv):
    views = srv.path("flaskpkg", "flaskpkg", "views.py")
    edit(views, 'TITLE = "Flask package"', 'TITLE = "Flask package" +')
    try:
        r = srv.request("/fpkg/")
        assert r.status == 500
        assert wait_for(lambda: "SyntaxError" in srv.log())
        assert srv.request("/fpkg/").status == 500   # tried again, still broken
    finally:
        edit(views, 'TITLE = "Flask package" +', 'TITLE = "Flask package"')
    assert h1(srv.request("/fpkg/")) == "Flask package"


def test_flask_package_unchanged_is_not_reloaded(srv):
    srv.request("/fpkg/")
    before = json.loads(srv.request("/fpkg/modules").body)
    for _ in range(5):
        assert json.loads(srv.request("/fpkg/modules").body) == before


# ================================================================ Django, reload On

def csrf_token(r):
    return re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', r.body).group(1).decode()


def test_django_pages_and_static_files(srv):
    r = srv.request("/dj/")
    assert h1(r) == "Notes"
    assert b'href="/dj/static/notes/style.css"' in r.body
    assert b'href="/dj/add/"' in r.body   # reverse() under SCRIPT_NAME
    served_by_httpd(srv.request("/dj/static/notes/style.css"),
                    srv.path("djstatic", "notes", "style.css"))
    r = srv.request("/dj/static/admin/css/base.css")
    assert r.status == 200 and b"DJANGO Admin styles" in r.body


def test_django_form_with_csrf(srv):
    c = Client(srv)
    r = c.request("/dj/add/")
    assert r.status == 200 and "csrftoken" in c.cookies
    token = csrf_token(r)
    text = "note %d from %s" % (time.monotonic_ns(), srv.mpm)
    # no token, or a token without its cookie: refused
    assert c.request("/dj/add/", "POST", form={"text": text}).status == 403
    assert Client(srv).request("/dj/add/", "POST", form={
        "text": text, "csrfmiddlewaretoken": token}).status == 403
    r = c.request("/dj/add/", "POST", form={"text": text, "csrfmiddlewaretoken": token})
    assert r.status == 302 and r.headers["Location"] == "/dj/"
    # written to the SQLite database
    assert ("<li>%s</li>" % text).encode() in c.request("/dj/").body
    # an invalid form comes back with its error
    r = c.request("/dj/add/", "POST", form={"text": "", "csrfmiddlewaretoken": token})
    assert r.status == 200 and b"This field is required." in r.body


def test_django_admin_login(srv):
    c = Client(srv)
    r = c.request("/dj/admin/login/?next=/dj/admin/")
    assert r.status == 200 and b"<title>Log in | Django site admin</title>" in r.body
    token = csrf_token(r)
    r = c.request("/dj/admin/login/?next=/dj/admin/", "POST", form={
        "username": "admin", "password": "wrong", "csrfmiddlewaretoken": token,
        "next": "/dj/admin/"})
    assert r.status == 200 and b"Please enter the correct username and password" in r.body
    r = c.request("/dj/admin/login/?next=/dj/admin/", "POST", form={
        "username": "admin", "password": ADMIN_PASSWORD, "csrfmiddlewaretoken": token,
        "next": "/dj/admin/"})
    assert r.status == 302 and r.headers["Location"] == "/dj/admin/", r
    assert "sessionid" in c.cookies
    r = c.request("/dj/admin/")
    assert r.status == 200 and b"Site administration" in r.body
    assert b'href="/dj/admin/notes/note/"' in r.body


def test_django_view_error_is_logged(srv):
    r = srv.request("/dj/fail/")
    assert r.status == 500
    assert wait_for(lambda: "RuntimeError: a view that fails" in srv.log())


def test_django_edited_view_takes_effect(srv):
    views = srv.path("djproject", "notes", "views.py")
    assert h1(srv.request("/dj/")) == "Notes"
    edit(views, 'TITLE = "Notes"', 'TITLE = "Notes, edited"')
    try:
        assert h1(srv.request("/dj/")) == "Notes, edited"
        info = json.loads(srv.request("/dj/info/").body)
        # the new models module is the one Django's (new) app registry has
        assert info["model_registered"] is True and info["script_name"] == "/dj"
        assert wait_for(lambda: re.search(
            r"MP00073: mod_python.wsgi \(pid=\d+, interpreter='django'\): reloading "
            r"'mysite.wsgi::application': .*/notes/views.py changed", srv.log()))
    finally:
        edit(views, 'TITLE = "Notes, edited"', 'TITLE = "Notes"')
    assert h1(srv.request("/dj/")) == "Notes"


def test_django_edited_urls_add_a_page(srv):
    urls = srv.path("djproject", "notes", "urls.py")
    assert srv.request("/dj/extra/").status == 404
    edit(urls, '    path("fail/", views.fail, name="fail"),\n',
         '    path("fail/", views.fail, name="fail"),\n'
         '    path("extra/", views.info, name="extra"),\n')
    try:
        info = json.loads(srv.request("/dj/extra/").body)
        assert info["path"] == "/dj/extra/"
    finally:
        edit(urls, '    path("extra/", views.info, name="extra"),\n', "")
    assert srv.request("/dj/extra/").status == 404


def test_django_edit_while_requests_run(srv):
    views = srv.path("djproject", "notes", "views.py")
    titles = ["Notes"] + ["Notes %d" % i for i in range(1, 4)]

    def edits():
        for old, new in zip(titles, titles[1:]):
            time.sleep(0.3)
            edit(views, 'TITLE = "%s"' % old, 'TITLE = "%s"' % new)

    try:
        seen = hammer_while(srv, "/dj/", edits)
        # every request answered by a whole application, old or new
        assert {s for s, _ in seen} == {200}, [b[:300] for s, b in seen if s != 200]
        assert {re.search(rb"<h1>(.*)</h1>", b).group(1).decode() for _, b in seen} \
            <= set(titles)
        assert h1(srv.request("/dj/")) == titles[-1]
    finally:
        edit(views, 'TITLE = "%s"' % titles[-1], 'TITLE = "Notes"')
    assert h1(srv.request("/dj/")) == "Notes"


def test_reloads_free_the_old_generation(srv):
    """Django's per-thread storage (asgiref on httpd's threads), its
    signals' weakref.finalize callbacks and logging handlers would keep
    every old generation of Django alive: one stays."""
    for app, probe, views, key in (
            ("/dj/", "/probe/dj?django.apps.registry,django.db.models.base",
             ("djproject", "notes", "views.py"), 'TITLE = "Notes'),
            ("/fpkg/", "/probe/fpkg?flask.app,werkzeug.routing.map",
             ("flaskpkg", "flaskpkg", "views.py"), 'TITLE = "Flask package')):
        path = srv.path(*views)
        assert srv.request(app).status == 200
        try:
            for i in range(3):
                edit(path, key + ('"' if i == 0 else ' %d"' % (i - 1)), key + ' %d"' % i)
                assert h1(srv.request(app)).endswith(" %d" % i)
                srv.request(app)
            counts = json.loads(srv.request(probe).body)
            assert set(counts.values()) == {1}, counts
        finally:
            edit(path, key + ' 2"', key + '"')
        assert srv.request(app).status == 200
