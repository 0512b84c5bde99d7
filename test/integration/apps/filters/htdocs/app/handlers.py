"""Content handlers for the filter tests: the last component of the URI
names what to do, req.args its parameters."""
import hashlib
import json
import urllib.parse

from mod_python import apache

import filters


def piece(i, size):
    """The i-th piece of a generated body (the tests make the same)."""
    unit = b"%07d|" % i
    return (unit * (size // len(unit) + 1))[:size]


def args(req):
    return dict(urllib.parse.parse_qsl(req.args or ""))


def reply(req, data, ctype="application/json"):
    req.content_type = ctype
    req.write(json.dumps(data) if ctype == "application/json" else data)
    return apache.OK


def big(req):
    """n pieces of `size` bytes, each its own write (flush=1 or 0)."""
    a = args(req)
    n, size, flush = int(a.get("n", 16)), int(a.get("size", 1000)), int(a.get("flush", 1))
    req.content_type = "application/octet-stream"
    if "length" in a:
        req.set_content_length(n * size)
    for i in range(n):
        req.write(piece(i, size), flush)
    return apache.OK


def text(req):
    req.content_type = "text/plain"
    for part in (args(req).get("parts") or "hello world").split(","):
        req.write(part)
    return apache.OK


def lines(req):
    """Lines cut across writes (each flushed: its own brigade)."""
    req.content_type = "text/plain"
    for part in ("one\ntw", "o\nthr", "ee\n", "four"):
        req.write(part)
    return apache.OK


def echo(req):
    """The body as read, with what the input filter counted."""
    a = args(req)
    if a.get("how") == "lines":
        body = b"".join(req.readlines())
    else:
        body = req.read()
    return reply(req, {"len": len(body), "sha": hashlib.sha256(body).hexdigest(),
                       "head": body[:40].decode("latin-1"),
                       "calls": getattr(req, "in_calls", None),
                       "max": getattr(req, "in_max", None),
                       "is_input": getattr(req, "in_is_input", None),
                       "passed_in": getattr(req, "passed_in", None)})


def echo_raw(req):
    body = req.read()
    return reply(req, body, "application/octet-stream")


def register(req):
    """req.register_output_filter + add_output_filter from the handler; the
    module is found beside this handler (its directory by default)."""
    req.register_output_filter("RUP", "filters::upper_out")
    req.add_output_filter("RUP")
    req.content_type = "text/plain"
    req.write("hello from a registered filter")
    return apache.OK


def register_dir(req):
    """The same, with dir given and a Class.method handler."""
    import os
    req.register_output_filter("RWRAP", "filters::Wrapper.run",
                               os.path.dirname(filters.__file__))
    req.add_output_filter("RWRAP")
    req.content_type = "text/plain"
    req.write("body")
    return apache.OK


def register_in(req):
    req.register_input_filter("RIN", "filters::upper_in")
    req.add_input_filter("RIN")
    return echo(req)


def deflate(req):
    """An httpd filter added by name."""
    req.add_output_filter("DEFLATE")
    req.content_type = "text/plain"
    req.write("deflate me " * 2000)
    return apache.OK


def unknown(req):
    out = {}
    for fn in (req.add_output_filter, req.add_input_filter):
        try:
            fn("NO_SUCH_FILTER")
            out[fn.__name__] = "added"
        except ValueError as e:
            out[fn.__name__] = "ValueError: %s" % e
    return reply(req, out)


def kept(req):
    """The filter object kept by filters.keep in an earlier request."""
    f = filters.KEPT[-1]
    out = {"closed": f.closed, "is_input": f.is_input, "repr": repr(f)}
    for name, call in (("write", lambda: f.write(b"x")), ("read", lambda: f.read()),
                       ("close", lambda: f.close()), ("pass_on", lambda: f.pass_on()),
                       ("name", lambda: f.name)):
        try:
            call()
            out[name] = "no error"
        except RuntimeError as e:
            out[name] = "RuntimeError: %s" % e
    return reply(req, out)


def marker(req):
    req.marker = "the handler's request object"
    req.content_type = "text/plain"
    req.write("marked")
    return apache.OK


def thread(req):
    req.content_type = "text/plain"
    req.write("abc")
    req.headers_out["X-Unused"] = "1"
    return apache.OK


def handler(req):
    action = req.uri.rstrip("/").rsplit("/", 1)[1]
    fn = globals().get(action)
    if fn is None:
        return text(req)
    return fn(req)
