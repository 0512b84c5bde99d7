"""mod_python.Cookie as 3.5 applications use it.

Cookie imports only the standard library, so its pure functions are tested
here in plain pytest (from lib/python); then against a real httpd (event
and prefork): cookies set by a handler, sent back by the client and read
with get_cookies / get_cookie, signed cookies checked (tampered ones
downgraded, ignored or refused), marshalled values read back only when
signed.  The handlers are in apps/cookie/htdocs/cookies.py."""
import base64
import hashlib
import hmac
import http.client
import json
import marshal
import os
import socket
import sys
import time

import pytest

from conftest import MPMS
from harness import ROOT, Httpd, one_child

sys.path.insert(0, os.path.join(ROOT, "lib", "python"))
from mod_python import Cookie  # noqa: E402

MPM_PARAMS = [m for m in ("event", "prefork") if m in MPMS]
SECRET = "t0p s3cret"


# ------------------------------------------------------------ pure

def test_cookie_string_and_attributes():
    c = Cookie.Cookie("name", "value", path="/p", domain="example.com", secure=True,
                      httponly=True, max_age=3600, version=1, comment="hi",
                      samesite="Lax", expires=0)
    assert str(c) == ("name=value; version=1; path=/p; domain=example.com; secure; "
                      "comment=hi; expires=Thu, 01-Jan-1970 00:00:00 GMT; Max-Age=3600; "
                      "samesite=Lax; httponly")
    assert repr(Cookie.Cookie("a", "b")) == "<Cookie: a=b>"
    # a false flag is left out
    assert str(Cookie.Cookie("a", "b", secure=False, httponly=0)) == "a=b"
    # keywords are case-insensitive, attributes settable afterwards
    c = Cookie.Cookie("a", "b", Path="/")
    c.domain = "d"
    assert str(c) == "a=b; path=/; domain=d"
    with pytest.raises(AttributeError):
        Cookie.Cookie("a", "b", bogus=1)
    with pytest.raises(AttributeError):
        c.bogus = 1


def test_expires_number_or_string():
    c = Cookie.Cookie("a", "b", expires=1700000000.7)
    assert c.expires == "Tue, 14-Nov-2023 22:13:20 GMT"
    c.expires = "Wed, 15-Nov-2023 00:00:00 GMT"   # RFC 1123's form is taken too
    assert c.expires == "Wed, 15-Nov-2023 00:00:00 GMT"
    c.expires = "Wed, 15 Nov 2023 00:00:00 GMT"
    assert str(c) == "a=b; expires=Wed, 15 Nov 2023 00:00:00 GMT"
    with pytest.raises(ValueError):
        c.expires = "tomorrow"
    assert not hasattr(Cookie.Cookie("a", "b"), "expires")


def test_parse_as_3_5():
    d = Cookie.Cookie.parse('$Version=1; a=1; b="quoted; x"; , c = 3 ;d=; e=x=y;a=2')
    assert {k: v.value for k, v in d.items()} == {
        "a": "2", "b": '"quoted; x"', "c": "3", "d": "", "e": "x=y"}
    assert all(type(v) is Cookie.Cookie and v.name == k for k, v in d.items())
    assert list(Cookie.Cookie.parse("a=1; b=2; c=3", names=["b"])) == ["b"]
    assert Cookie.Cookie.parse("") == {}


def test_signed_cookie_round_trip_and_refusals():
    s = Cookie.SignedCookie("sess", "v1", secret=SECRET)
    header = str(s)
    sig = hmac.new(SECRET.encode(), b"sess=v1", hashlib.sha256).hexdigest()
    assert header == "sess=" + sig + "v1"
    got = Cookie.SignedCookie.parse(header, SECRET)["sess"]
    assert type(got) is Cookie.SignedCookie and got.value == "v1"
    # wrong secret or tampered value: a plain Cookie with the raw value...
    for bad in (Cookie.SignedCookie.parse(header, "other"),
                Cookie.SignedCookie.parse("sess=" + sig + "v2", SECRET)):
        assert type(bad["sess"]) is Cookie.Cookie and bad["sess"].value.endswith(("v1", "v2"))
    # ... or left out, or an exception
    assert Cookie.SignedCookie.parse(header, "other", mismatch=Cookie.Cookie.IGNORE) == {}
    with pytest.raises(Cookie.CookieError):
        Cookie.SignedCookie.parse(header, "other", mismatch=Cookie.Cookie.EXCEPTION)
    # the name is signed with the value: moving bytes across "=" fails
    assert type(Cookie.SignedCookie.parse("sessv=" + sig + "1", SECRET)["sessv"]) \
        is Cookie.Cookie
    with pytest.raises(Cookie.CookieError):
        str(Cookie.SignedCookie("a", "b"))   # no secret
    with pytest.raises(Cookie.CookieError):
        Cookie.SignedCookie("a", "x" * 80).unsign("")


def test_signed_cookie_of_mod_python_3_5_is_read():
    """3.5 signed with HMAC-MD5 of name + value, 32 hex digits first."""
    legacy = "sess=" + hmac.new(b"k", b"sess" + b"old value", hashlib.md5).hexdigest() + \
        "old value"
    got = Cookie.SignedCookie.parse(legacy, "k", mismatch=Cookie.Cookie.EXCEPTION)["sess"]
    assert got.value == "old value"
    # re-issued with the current signature
    assert str(got) == "sess=" + hmac.new(b"k", b"sess=old value",
                                          hashlib.sha256).hexdigest() + "old value"


def test_marshal_cookie_only_unmarshals_signed_data():
    value = {"a": [1, 2.5, "é", b"\x00", None], "t": (1,)}
    header = str(Cookie.MarshalCookie("m", value, secret=SECRET))
    got = Cookie.MarshalCookie.parse(header, SECRET)["m"]
    assert type(got) is Cookie.MarshalCookie and got.value == value
    # the same data, unsigned: never unmarshalled
    raw = base64.b64encode(marshal.dumps(value)).decode()
    for bad in ("m=" + raw, "m=" + "0" * 64 + raw, header[:-3] + "AAA="):
        d = Cookie.MarshalCookie.parse(bad, SECRET)
        assert type(d["m"]) is Cookie.Cookie and isinstance(d["m"].value, str)
        assert Cookie.MarshalCookie.parse(bad, SECRET, mismatch=Cookie.Cookie.IGNORE) == {}
        with pytest.raises(Cookie.CookieError):
            Cookie.MarshalCookie.parse(bad, SECRET, mismatch=Cookie.Cookie.EXCEPTION)
    # signed, but not marshal data: refused too
    c = Cookie.SignedCookie("m", "not-base64!", secret=SECRET)
    with pytest.raises(Cookie.CookieError):
        Cookie.MarshalCookie.parse(str(c), SECRET, mismatch=Cookie.Cookie.EXCEPTION)
    c = Cookie.SignedCookie("m", base64.b64encode(b"\xffgarbage").decode(), secret=SECRET)
    with pytest.raises(Cookie.CookieError):
        Cookie.MarshalCookie.parse(str(c), SECRET, mismatch=Cookie.Cookie.EXCEPTION)


# ------------------------------------------------------------ in httpd

@pytest.fixture(scope="module", params=MPM_PARAMS)
def srv(request):
    h = Httpd(request.param)
    try:
        h.config(h.install_app("cookie"), mpm_settings=one_child(request.param))
        h.start()
        yield h
    finally:
        h.cleanup()


def js(r):
    assert r.status == 200, (r.status, r.body[:2000])
    return json.loads(r.body)


def set_cookies(srv):
    r = srv.request("/c/set")
    assert r.status == 200 and r.body == b"set"
    return r


def test_add_cookie_headers(srv):
    r = set_cookies(srv)
    sets = r.headers.get_all("Set-Cookie")
    assert r.headers.get_all("Cache-Control") == ['no-cache="set-cookie"']
    assert sets[0] == "plain=v1; path=/; Max-Age=60; httponly"
    assert sets[1] == ("obj=v2; version=1; domain=localhost; secure; "
                       "expires=Tue, 14-Nov-2023 22:13:20 GMT")
    value = "s3 é".encode()
    sig = hmac.new(SECRET.encode(), b"signed=" + value, hashlib.sha256).hexdigest()
    # http.client gives header bytes as latin-1
    assert sets[2].encode("latin-1") == b"signed=" + sig.encode() + value + b"; path=/c"
    assert sets[3].startswith("data=") and len(sets) == 4


def cookie_header(r):
    """The Cookie header a browser sends back for these Set-Cookies."""
    return "; ".join(s.split(";")[0] for s in r.headers.get_all("Set-Cookie"))


def test_cookies_sent_back_are_read(srv):
    back = cookie_header(set_cookies(srv))
    d = js(srv.request("/c/get", headers={"Cookie": back}))
    assert d["plain"]["plain"] == ["Cookie", "v1"] and d["plain"]["obj"] == ["Cookie", "v2"]
    assert d["signed"]["signed"] == ["SignedCookie", "s3 é"]
    # the other cookies fail SignedCookie's check: downgraded
    assert d["signed"]["plain"] == ["Cookie", "v1"]
    assert d["marshal"]["data"][0] == "MarshalCookie"
    assert d["one"] == {"signed": ["SignedCookie", "s3 é"]} and d["none"] is None
    assert js(srv.request("/c/data", headers={"Cookie": back})) == {
        "class": "MarshalCookie", "same": True}


def test_two_cookie_headers_are_joined(srv):
    # http.client sends one header per name: two Cookie lines by hand
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
    try:
        s.sendall(b"GET /c/get HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                  b"Cookie: a=1\r\nCookie: b=2\r\n\r\n")
        r = http.client.HTTPResponse(s)
        r.begin()
        body = json.loads(r.read())
    finally:
        s.close()
    # httpd joins them with ", ", and the value takes all up to ";" (as 3.5)
    assert body["plain"] == {"a": ["Cookie", "1, b=2"]}


def tamper(header, name):
    """Change the last character of cookie `name`'s value."""
    out = []
    for item in header.split("; "):
        if item.startswith(name + "="):
            item = item[:-1] + ("A" if item[-1] != "A" else "B")
        out.append(item)
    return "; ".join(out)


@pytest.mark.parametrize("mode", ["downgrade", "ignore", "exception"])
def test_tampered_signed_and_marshal_cookies(srv, mode):
    back = cookie_header(set_cookies(srv))
    bad = tamper(tamper(back, "signed"), "data")
    d = js(srv.request("/c/get?" + mode, headers={"Cookie": bad}))
    if mode == "downgrade":
        assert d["signed"]["signed"][0] == "Cookie"
        # the raw value, signature and all
        assert len(d["signed"]["signed"][1]) > 64 and "s3 " in d["signed"]["signed"][1]
        assert d["marshal"]["data"][0] == "Cookie"         # never unmarshalled
        assert d["one"] == {"signed": ["Cookie", d["signed"]["signed"][1]]}
    elif mode == "ignore":
        assert d["signed"] == {} and d["marshal"] == {}
    else:
        assert d["signed"].startswith("CookieError: Incorrectly Signed Cookie")
        assert d["marshal"].startswith("CookieError")
    assert js(srv.request("/c/data", headers={"Cookie": bad}))["class"] == "Cookie"


def test_unsigned_marshal_data_is_refused(srv):
    raw = base64.b64encode(marshal.dumps({"admin": True})).decode()
    d = js(srv.request("/c/get?ignore", headers={"Cookie": "data=" + raw}))
    assert d["marshal"] == {}
    d = js(srv.request("/c/get", headers={"Cookie": "data=" + "0" * 64 + raw}))
    assert d["marshal"]["data"] == ["Cookie", "0" * 64 + raw]


def test_no_cookie_header(srv):
    d = js(srv.request("/c/get"))
    assert d == {"plain": {}, "signed": {}, "marshal": {}, "one": None, "none": None}


def test_cookie_expiry_in_the_future_is_well_formed():
    t = time.time() + 86400
    c = Cookie.Cookie("a", "b", expires=t)
    assert time.strftime("%d-%b-%Y", time.gmtime(t)) in c.expires
