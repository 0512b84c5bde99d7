"""mod_python.cgihandler and apache.setup_cgi/restore_nocgi: CGI scripts
written in Python, run inside httpd as 3.5 ran them; against a real httpd,
event and prefork."""
import time

import pytest

from harness import Httpd, one_child


@pytest.fixture(scope="module", params=["event", "prefork"])
def srv(request):
    h = Httpd(request.param)
    try:
        h.config(h.install_app("cgi"), mpm_settings=one_child(request.param))
        h.start()
        yield h
    finally:
        h.cleanup()


def test_headers_environment_and_directory(srv):
    r = srv.request("/cgi/hello.py?a=1")
    assert r.status == 200, r.body
    assert r.headers["Content-Type"] == "text/plain"
    assert r.headers["X-Script"] == "hello"
    assert r.body == b"hello a=1 Python-CGI/1.1\nscript /cgi/hello.py True\n"


def test_post_body_as_text(srv):
    r = srv.request("/cgi/post.py", method="POST", body="héllo".encode(),
                    headers={"Content-Type": "text/plain"})
    assert r.status == 200, r.body
    assert r.body == "got 5: HÉLLO".encode()


def test_binary_in_and_out(srv):
    data = bytes(range(256)) * 40
    r = srv.request("/cgi/binary.py", method="POST", body=data,
                    headers={"Content-Type": "application/octet-stream"})
    assert r.status == 200
    assert r.body == bytes(reversed(data))


def test_status_and_sys_exit(srv):
    r = srv.request("/cgi/missing.py")
    assert r.status == 404 and r.body == b"no such thing\n"


def test_location_redirects(srv):
    r = srv.request("/cgi/redirect.py")
    assert r.status == 302 and r.headers["Location"].endswith("/elsewhere")


def test_a_failing_script_is_a_500_with_a_traceback(srv):
    r = srv.request("/cgi/fails.py")
    assert r.status == 500
    assert b"cgi script failed" in r.body   # PythonDebug On
    assert "RuntimeError: cgi script failed" in srv.log()


def test_missing_script_is_404(srv):
    assert srv.request("/cgi/nothere.py").status == 404


def test_edited_script_runs_new_code(srv):
    path = srv.path("htdocs/cgi/edit.py")
    srv.write("htdocs/cgi/edit.py", 'print("Content-Type: text/plain\\n\\none")\n')
    assert srv.request("/cgi/edit.py").body == b"one\n"
    time.sleep(0.01)
    with open(path, "w") as f:
        f.write('print("Content-Type: text/plain\\n\\ntwo, edited")\n')
    assert srv.request("/cgi/edit.py").body == b"two, edited\n"


def test_process_environment_is_restored_and_untouched(srv):
    srv.request("/cgi/hello.py?x=1")
    r = srv.request("/app/x")
    assert r.body == b"_Environ False", r.body
