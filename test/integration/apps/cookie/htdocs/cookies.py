"""mod_python.Cookie used as a 3.5 application uses it: /c/<action> runs
do_<action>."""
import json

from mod_python import Cookie, apache

# A value of each kind marshal takes.
DATA = {"n": 1, "f": 2.5, "s": "é", "b": b"\x00\xff", "l": [None, True], "t": (1, 2),
        "set": frozenset([3])}


def handler(req):
    return globals()["do_" + req.uri.rsplit("/", 1)[1]](req)


def out(req, obj):
    req.content_type = "application/json"
    req.write(json.dumps(obj))
    return apache.OK


def secret(req):
    return req.get_options()["secret"]


def do_set(req):
    Cookie.add_cookie(req, "plain", "v1", path="/", httponly=True, max_age=60)
    Cookie.add_cookie(req, Cookie.Cookie("obj", "v2", expires=1700000000, domain="localhost",
                                         secure=True, version=1))
    Cookie.add_cookie(req, Cookie.SignedCookie("signed", "s3 é", secret=secret(req), path="/c"))
    Cookie.add_cookie(req, Cookie.MarshalCookie("data", DATA, secret=secret(req)))
    req.content_type = "text/plain"
    req.write("set")
    return apache.OK


def show(cookies):
    return {name: [type(c).__name__, c.value if isinstance(c.value, str) else repr(c.value)]
            for name, c in cookies.items()}


MODES = {"downgrade": Cookie.Cookie.DOWNGRADE, "ignore": Cookie.Cookie.IGNORE,
         "exception": Cookie.Cookie.EXCEPTION}


def do_get(req):
    mode = MODES[req.args or "downgrade"]
    r = {"plain": show(Cookie.get_cookies(req))}
    for name, cls in (("signed", Cookie.SignedCookie), ("marshal", Cookie.MarshalCookie)):
        try:
            r[name] = show(Cookie.get_cookies(req, cls, secret=secret(req), mismatch=mode))
        except Cookie.CookieError as e:
            r[name] = "CookieError: %s" % e
    one = Cookie.get_cookie(req, "signed", Cookie.SignedCookie, secret=secret(req))
    r["one"] = show({"signed": one}) if one else None
    r["none"] = Cookie.get_cookie(req, "missing")
    return out(req, r)


def do_data(req):
    """Is the marshalled value back exactly?"""
    c = Cookie.get_cookie(req, "data", Cookie.MarshalCookie, secret=secret(req))
    return out(req, {"class": type(c).__name__, "same": c.value == DATA})
