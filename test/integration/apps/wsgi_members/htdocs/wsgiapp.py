"""WSGI applications served the way mod_python 3.5's mod_python.wsgi
serves them (build_wsgi_env(), the application called with
req.wsgi_start_response, its iterable written, close() called).  The
application is chosen by the query string: /wsgi/...?<name>."""
import json
import sys
from wsgiref.validate import validator

from mod_python import apache


def handler(req):
    try:
        env = req.build_wsgi_env()
    except ValueError as e:
        req.content_type = "text/plain"
        req.write("ValueError: %s" % e)
        return apache.OK
    if env is None:
        # mod_python.wsgi declines; a status the test can see instead
        return apache.HTTP_NOT_FOUND
    app = APPS[(req.args or "environ").split("&")[-1]]
    response = app(env, req.wsgi_start_response)
    try:
        for data in response:
            req.write(data)
    finally:
        if type(response) not in (list, tuple):
            getattr(response, "close", lambda: None)()
    return apache.OK


def fixup(req):
    """The environ built in another phase: that phase's <Location>."""
    env = req.build_wsgi_env()
    req.fixup_split = [env["SCRIPT_NAME"], env["PATH_INFO"]]
    return apache.OK


def plain(value):
    if isinstance(value, (str, int, bool, type(None))):
        return value
    if isinstance(value, tuple):
        return list(value)
    return type(value).__name__


def request_of(environ):
    """The request object is wsgi.input (under the validator: what its
    wrapper wraps)."""
    inp = environ["wsgi.input"]
    return getattr(inp, "input", inp)


def environ_app(environ, start_response):
    """The environ as JSON, with a few facts about its objects."""
    req = request_of(environ)
    d = {k: plain(v) for k, v in environ.items()}
    d["input_type"] = type(req).__name__
    errors = environ["wsgi.errors"]
    if type(errors).__name__ == "ErrorWrapper":   # the validator's
        errors = errors.errors
    d["errors_is_stderr"] = errors is sys.stderr
    d["str_values"] = all(type(v) is str for k, v in environ.items() if "." not in k)
    d["req.path_info"] = req.path_info
    d["req.subprocess_env"] = {k: req.subprocess_env.get(k)
                               for k in ("SCRIPT_NAME", "PATH_INFO", "REQUEST_URI")}
    d["fixup_split"] = getattr(req, "fixup_split", None)
    body = json.dumps(d).encode()
    start_response("200 OK", [("Content-Type", "application/json"),
                              ("Content-Length", str(len(body)))])
    return [body]


def hello_app(environ, start_response):
    """PEP 3333's example, and what start_response returned."""
    write = start_response("200 OK", [("Content-type", "text/plain"),
                                      ("X-Hello", "yes"), ("X-Multi", "a"),
                                      ("X-Multi", "b")])
    req = request_of(environ)
    write(b"write is req.write: %d; " % (write == req.write))
    return [b"Hello ", b"World!"]


class Body:
    """An iterable with close(), as frameworks return: checked by the
    validator (close must be called)."""

    def __init__(self, parts):
        self.parts = parts

    def __iter__(self):
        return iter(self.parts)

    def close(self):
        sys.stderr.write("wsgi test: body closed\n")
        sys.stderr.flush()


def echo_app(environ, start_response):
    """Reads the body as applications do: read(n), readline(), iteration,
    readlines(); writes to wsgi.errors; answers with the write() callable
    and an iterable with close()."""
    inp = environ["wsgi.input"]
    n = int(environ.get("CONTENT_LENGTH") or 0)
    first = inp.readline()
    head = inp.read(3)
    lines = [line for line in inp]
    rest = inp.readlines()
    environ["wsgi.errors"].write("wsgi test: %d bytes from %s\n" % (n, environ["REQUEST_METHOD"]))
    environ["wsgi.errors"].writelines(["wsgi test: writelines\n"])
    environ["wsgi.errors"].flush()
    write = start_response("201 Created", [("Content-Type", "application/json"),
                                           ("X-Lines", str(len(lines)))])
    write(b"")
    body = json.dumps({"first": first.decode(), "head": head.decode(),
                       "lines": [x.decode() for x in lines], "rest": len(rest),
                       "type": environ.get("CONTENT_TYPE"), "length": n}).encode()
    return Body([body[:5], body[5:]])


def twice_app(environ, start_response):
    """A second call without exc_info is an error (PEP 3333)."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    try:
        start_response("200 OK", [("Content-Type", "text/plain")])
    except RuntimeError as e:
        return [b"RuntimeError: " + str(e).encode()]
    return [b"accepted twice"]


def replace_app(environ, start_response):
    """An error before the body: start_response again with exc_info
    replaces the status and the headers."""
    start_response("200 OK", [("Content-Type", "text/html"), ("X-First", "1")])
    try:
        raise KeyError("boom")
    except KeyError:
        start_response("503 Try Later", [("Content-Type", "text/plain"),
                                         ("X-Second", "2")], sys.exc_info())
    return [b"replaced"]


def reraise_app(environ, start_response):
    """An error once the body has begun: start_response raises exc_info
    again (the application may not change the status any more)."""
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"begun;")
    try:
        raise KeyError("late")
    except KeyError as e:
        original = e
        try:
            start_response("500 Oops", [("Content-Type", "text/plain")], sys.exc_info())
        except KeyError as again:
            return [b"reraised same: %d" % (again is original)]
    return [b"not reraised"]


def bad_app(environ, start_response):
    """What start_response refuses, each before it sets anything."""
    calls = [("OK", []), ("2000 Big", []), (200, []), ("200\nX: y", []),
             ("200 OK", [("Bad Name", "v")]), ("200 OK", [("X-A", "a\r\nX-B: b")]),
             ("200 OK", [("X-A", "\u20ac")]), ("200 OK", [("Content-Length", "12a")]),
             ("200 OK", [("X-A",)]), ("200 OK", [(b"X-A", "b")]), ("200 OK", 5),
             ("200 OK", [("Content-Type", "text/plain")], ("not", "exc", "info"))]
    refused = []
    for args in calls:
        try:
            start_response(*args)
            refused.append(None)
        except Exception as e:
            refused.append(type(e).__name__)
    start_response("200 OK", [("Content-Type", "application/json")])
    return [json.dumps(refused).encode()]


def status_app(environ, start_response):
    """The reason phrase of the status line reaches the client."""
    start_response("299 Custom Reason", [("Content-Type", "text/plain")])
    return [b"custom"]


def latin1_app(environ, start_response):
    """Header values are native strings: Latin-1 code points go out as
    those bytes."""
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8"),
                              ("X-Latin", "caf\u00e9")])
    return ["café".encode()]


def members_app(environ, start_response):
    """What start_response sets on the request object, logged."""
    req = request_of(environ)
    start_response("202 Accepted Now", [("Content-Type", "text/x-test"),
                                        ("Content-Length", "2"), ("X-A", "1")])
    facts = {"status": req.status, "status_line": req.status_line,
             "content_type": req.content_type, "_content_type_set": req._content_type_set,
             "clength": req.clength, "X-A": req.headers_out.get("X-A"),
             "Content-Length": req.headers_out.get("Content-Length"),
             "Content-Type": req.headers_out.get("Content-Type")}
    req.log_error("wsgi members: " + json.dumps(facts, sort_keys=True), apache.APLOG_NOTICE)
    return [b"ok"]


APPS = {
    "environ": environ_app,
    "hello": hello_app,
    "echo": validator(echo_app),
    "echo_plain": echo_app,   # iterates over the request object itself
    "validated_env": validator(environ_app),
    "validated_hello": validator(hello_app),
    "twice": twice_app,
    "replace": replace_app,
    "reraise": reraise_app,
    "bad": bad_app,
    "status": status_app,
    "latin1": latin1_app,
    "members": members_app,
}
