"""The request object's HTTP helpers, as mod_python 3.5 applications use
them (auth, conditional requests, validators, the client's host, allowed
methods, TLS), against a real httpd: event and prefork."""
import base64
import json

import pytest

from harness import Httpd, one_child, run_embedded_python


@pytest.fixture(scope="module", params=["event", "prefork"])
def srv(request):
    h = Httpd(request.param)
    try:
        h.config(h.install_app("request_http"), mpm_settings=one_child(request.param))
        h.start()
        yield h
    finally:
        h.cleanup()


def js(r):
    assert r.status == 200, (r.status, r.body)
    return json.loads(r.body)


def basic(user, pw):
    return {"Authorization": "Basic " + base64.b64encode(
        ("%s:%s" % (user, pw)).encode()).decode()}


def test_basic_auth_password_and_user(srv):
    d = js(srv.request("/auth/x?auth", headers=basic("alice", "s3cret")))
    assert d == {"type": "Basic", "name": "mp zone", "pw": "s3cret", "user": "alice"}


def test_basic_auth_non_ascii_password_keeps_its_bytes(srv):
    hdr = {"Authorization": "Basic " + base64.b64encode("bob:pässwörd".encode()).decode()}
    assert js(srv.request("/auth/x?auth", headers=hdr))["pw"] == "pässwörd"


def test_no_credentials_or_no_authtype_gives_none(srv):
    assert js(srv.request("/auth/x?auth"))["pw"] is None
    d = js(srv.request("/app/x?auth", headers=basic("alice", "s3cret")))
    assert d == {"type": None, "name": None, "pw": None, "user": None}


def test_last_modified_etag_and_conditions(srv):
    r = srv.request("/app/x?conditions")
    assert r.status == 200 and r.body == b"fresh"
    lm, etag = r.headers["Last-Modified"], r.headers.get("ETag")
    assert lm == "Tue, 14 Nov 2023 22:13:20 GMT", lm
    assert etag, dict(r.headers)
    assert srv.request("/app/x?conditions", headers={"If-Modified-Since": lm}).status == 304
    assert srv.request("/app/x?conditions", headers={"If-None-Match": etag}).status == 304
    r = srv.request("/app/x?conditions", headers={"If-None-Match": '"other"'})
    assert r.status == 200 and r.body == b"fresh"


def test_discard_request_body(srv):
    d = js(srv.request("/app/x?discard", method="POST", body=b"x" * 100000))
    assert d == {"rc": 0, "left": ""}


def test_plain_http_is_not_https(srv):
    assert js(srv.request("/app/x?https")) == {"https": 0, "protocol": None}


def test_remote_host(srv):
    d = js(srv.request("/app/x?host"))
    assert d["host"] == "127.0.0.1" and d["pair"] == ["127.0.0.1", 1], d
    assert d["default"] in (None, "127.0.0.1", "localhost"), d


def test_allow_methods_in_405(srv):
    r = srv.request("/app/x?allow")
    assert r.status == 405
    allow = {m.strip() for m in r.headers["Allow"].split(",")}
    # httpd 2.4 lists registered methods only (not BREW, added too)
    assert {"GET", "PUT"} <= allow and "POST" not in allow, allow
    r = srv.request("/app/x?allow_reset")
    allow = {m.strip() for m in r.headers["Allow"].split(",")}
    assert "POST" in allow and "PUT" not in allow, allow


def test_send_http_header_is_harmless(srv):
    r = srv.request("/app/x?header")
    assert r.status == 200 and r.body == b"after header"


def test_bad_arguments_raise(srv):
    assert js(srv.request("/app/x?bad")) == [
        "TypeError", "ValueError", "TypeError", "ValueError", "ValueError", "TypeError"]


def test_request_attributes_of_3_5(srv):
    d = js(srv.request("/app/x?attrs"))
    assert d["path"] == "/app/x" and d["query"] == "attrs" and d["len"] == 9, d
    # httpd fills the port in from the Host header; no scheme in "GET /app/x"
    assert d["port"] == srv.port and d["scheme"] is None, d
    assert d["content_languages"] is None, d
    assert d["allowed_methods"] == [] and d["allowed_xmethods"] is None, d
    assert isinstance(d["allowed"], int) and d["read_body"] == 0 and d["eos_sent"] == 0, d
    assert d["useragent_addr"][0] == "127.0.0.1" and d["useragent_addr"][1] > 0, d
    assert d["next"] is None and d["prev"] is None and d["main"] is None, d


def test_prev_and_next_after_internal_redirect(srv):
    d = js(srv.request("/app/x?redirect"))
    assert d == {"prev_args": "redirect", "prev_next_is_me": True, "main": None,
                 "prev_prev": None}, d


def test_server_attributes_of_3_5(srv):
    import time
    d = js(srv.request("/app/x?server"))
    assert d["next"] is True and d["path"] is None and d["pathlen"] == 0, d
    assert d["generation"] >= 0, d
    assert 0 < time.time() - d["restart_time"] < 3600, d


def test_server_header_names_python(srv):
    r = srv.request("/app/x?header")
    want = "mod_python/4.0.0-dev Python/" + run_embedded_python(
        "import sys; print('%d.%d' % sys.version_info[:2])").strip()
    assert want in r.headers["Server"], r.headers["Server"]
