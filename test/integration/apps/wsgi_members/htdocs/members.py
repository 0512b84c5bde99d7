"""mod_python 3.5's small request, connection and server members, used as
3.5 code uses them: /app/x?<action>."""
import ctypes
import json
import os

from mod_python import apache

HERE = os.path.dirname(__file__)
kept = []


def handler(req):
    action, _, arg = (req.args or "").partition("=")
    return globals()["do_" + action](req, arg)


def out(req, obj):
    req.content_type = "application/json"
    req.write(json.dumps(obj))
    return apache.OK


def do_counts(req, arg):
    """What the publisher reads: nothing written yet, no type set by the
    handler (httpd may have guessed one); then both."""
    d = {"start": [req._bytes_queued, req._content_type_set, req.content_type]}
    req.write("abc", 0)
    req.write(b"", 0)
    d["write"] = req._bytes_queued
    n = req.sendfile(os.path.join(HERE, "app", "data.txt"))
    d["sendfile"] = [n, req._bytes_queued]
    req.content_type = "text/plain"
    d["type_set"] = req._content_type_set
    req.write("\n", 0)
    req.write(json.dumps(d))
    return apache.OK


def do_fresh(req, arg):
    """A new request starts from zero, whatever object serves it."""
    return out(req, [req._bytes_queued, req._content_type_set])


def pointer(capsule):
    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype = ctypes.c_void_p
    get.argtypes = [ctypes.py_object, ctypes.c_char_p]
    return get(capsule, None)


def do_capsules(req, arg):
    """What a C extension written for 3.5 does: take the structures out of
    the capsules (their name is NULL).  request_rec starts with pool,
    connection, server; conn_rec with pool, base_server."""
    valid = ctypes.pythonapi.PyCapsule_IsValid
    valid.restype = ctypes.c_int
    valid.argtypes = [ctypes.py_object, ctypes.c_char_p]
    caps = [req._request_rec, req.connection._conn_rec, req.server._server_rec,
            req.connection.base_server._server_rec]
    r, c, s, base = (pointer(x) for x in caps)
    field = lambda addr, i: ctypes.c_void_p.from_address(addr + i * ctypes.sizeof(
        ctypes.c_void_p)).value
    return out(req, {"types": [type(x).__name__ for x in caps],
                     "valid": [valid(x, None) for x in caps],
                     "r.connection": field(r, 1) == c, "r.server": field(r, 2) == s,
                     "c.base_server": field(c, 1) == base, "fresh": pointer(req._request_rec) == r})


def do_chunked(req, arg):
    """chunked is writable (an int): 1 makes httpd send the body chunked
    even when it knows its length."""
    before = req.chunked
    if arg:
        req.chunked = int(arg)
    req.content_type = "text/plain"
    req.write("%d %d" % (before, req.chunked), 0)
    return apache.OK


def do_status(req, arg):
    """Any int, as in 3.5; httpd answers 500 for one it cannot send."""
    req.status = int(arg)
    req.content_type = "text/plain"
    req.write("status %d" % req.status)
    return apache.OK


def do_refused(req, arg):
    refused = []
    for attr, value in (("status", 2 ** 40), ("status", "200"), ("chunked", "1"),
                        ("chunked", 2 ** 40), ("_bytes_queued", 1),
                        ("_content_type_set", 1), ("_request_rec", None)):
        try:
            setattr(req, attr, value)
            refused.append(None)
        except Exception as e:
            refused.append(type(e).__name__)
    return out(req, refused)


def do_double_reverse(req, arg):
    """0 until a double-reverse lookup is made; then 1 (it agreed) or -1."""
    before = req.connection.double_reverse
    host = req.get_remote_host(apache.REMOTE_DOUBLE_REV)
    return out(req, {"before": before, "after": req.connection.double_reverse,
                     "host": host})


def do_server_attrs(req, arg):
    """The server object takes attributes (3.5's had a __dict__), kept for
    the request: req.server is the same object throughout."""
    before = hasattr(req.server, "counter")
    req.server.counter = 1
    req.server.counter += 1
    req.server.me = req.server   # a cycle: the GC frees it
    return out(req, {"before": before, "counter": req.server.counter,
                     "same": req.server is req.server,
                     "dict": sorted(req.server.__dict__),
                     "main": hasattr(apache.main_server, "counter")})


def do_cycle(req, arg):
    """Cycles through the server and connection objects' attributes."""
    req.server.req = req
    req.connection.base_server.conn = req.connection
    req.connection.base_server.req = req
    req.write("same base_server: %d" % (req.connection.base_server is
                                        req.connection.base_server))
    return apache.OK


def do_collected(req, arg):
    """After the cycles' request: the GC frees its request object."""
    import gc
    gc.collect()
    n = sum(1 for o in gc.get_objects()
            if type(o).__name__ == "mp_request" and o is not req)
    return out(req, n)


def do_types(req, arg):
    return out(req, [type(req).__name__, type(req.connection).__name__,
                     type(req.server).__name__, type(apache.main_server).__name__])


def do_keep(req, arg):
    req.write("kept", 0)
    req.content_type = "text/plain"
    kept.append(req)
    return apache.OK


def do_after(req, arg):
    """A request object kept after its request: its own counts are still
    there; what reaches httpd raises."""
    old = kept.pop()
    d = {"counts": [old._bytes_queued, old._content_type_set]}
    for name in ("_request_rec", "chunked"):
        try:
            getattr(old, name)
            d[name] = None
        except RuntimeError as e:
            d[name] = "RuntimeError"
    for call in (lambda: old.build_wsgi_env(),
                 lambda: old.wsgi_start_response("200 OK", [])):
        try:
            call()
            d.setdefault("calls", []).append(None)
        except RuntimeError:
            d.setdefault("calls", []).append("RuntimeError")
    return out(req, d)


def do_eos(req, arg):
    req.content_type = "text/plain"
    req.write("eos_sent %d" % req.eos_sent)
    return apache.OK


def loghandler(req):
    if req.args == "eos":
        req.log_error("members: eos_sent in the log phase: %d" % req.eos_sent,
                      apache.APLOG_NOTICE)
    return apache.OK
