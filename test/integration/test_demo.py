"""The demo (scripts/demo.sh) works as the README says: its hello pages,
the publisher site (a form, an upload, a session login seen by a PSP page)
and live reload of a published page."""
import os
import re
import sys
import tempfile

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "demo"))
import run_demo  # noqa: E402


@pytest.fixture(scope="module")
def demo():
    parent = tempfile.mkdtemp(prefix="mp-demo-test-")
    os.chmod(parent, 0o755)       # httpd's user walks through it
    root = os.path.join(parent, "demo")
    h = None
    try:
        h, port1, port2 = run_demo.start(root=root, quiet=True)
        yield h
    finally:
        run_demo.stop(root)
        os.rmdir(parent)


def test_hello_pages(demo):
    r = demo.request("/")
    assert r.status == 200, r.body


def hits(r):
    text = r.body.decode()
    pid = re.search(r"process\s*: pid (\d+)", text).group(1)
    return pid, int(re.search(r"hits here\s*: (\d+)", text).group(1))


def test_hits_counter_survives_a_reload(demo):
    """The counter __mp_clone__ carries over keeps counting when
    greeting.py (and so handler.py) is reloaded."""
    seen = {}
    for _ in range(6):
        pid, n = hits(demo.request("/"))
        seen[pid] = max(n, seen.get(pid, 0))
    path = demo.path("htdocs", "app", "greeting.py")
    with open(path) as f:
        src = f.read()
    with open(path, "w") as f:
        f.write(src + "\n# edited\n")
    for _ in range(6):
        r = demo.request("/")
        pid, n = hits(r)
        if pid in seen:
            assert n > seen[pid], (pid, n, seen)
            break
    else:
        pytest.skip("no request reached a process seen before the edit")
    assert "Reimporting module '%s'" % path in demo.log()


def test_publisher_form_upload_and_session_seen_by_psp(demo):
    r = demo.request("/site/index.py/greet", method="POST", body=b"name=%3Cb%3EAnn",
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 200 and b"Hello, &lt;b&gt;Ann!" in r.body, r.body
    body = (b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n"
            b"Content-Type: text/plain\r\n\r\nabc\r\n--XyZ--\r\n")
    r = demo.request("/site/index.py/upload", method="POST", body=body,
                     headers={"Content-Type": "multipart/form-data; boundary=XyZ"})
    assert b"a.txt: 3 bytes, sha256 ba7816bf" in r.body, r.body
    r = demo.request("/site/index.py/login", method="POST", body=b"user=ann&password=demo",
                     headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert b"Welcome, ann." in r.body, r.body
    cookie = r.headers["Set-Cookie"].split(";")[0]
    r = demo.request("/site/page.psp", headers={"Cookie": cookie})
    assert r.status == 200 and b"logged in as <b>ann</b>" in r.body, r.body
    assert b"<li>item 3</li>" in r.body
    assert demo.request("/site/index.py/_page").status == 403


def test_editing_a_published_page_shows_at_once(demo):
    path = demo.path("htdocs", "site", "index.py")
    with open(path) as f:
        src = f.read()
    with open(path, "w") as f:
        f.write(src.replace("Hello, %s!", "Hi there, %s!"))
    r = demo.request("/site/index.py/greet?name=Bo")
    assert b"Hi there, Bo!" in r.body, r.body
