"""Handlers reporting what mod_python 3.5's dispatch rules give them, as
JSON: the test compares."""
import json

from mod_python import apache


def send(req, obj):
    req.content_type = "application/json"
    req.write(json.dumps(obj))
    return apache.OK


def handler(req):
    return globals()[req.args or "hlist"](req)


def hlist(req):
    h = req.hlist
    first = {"handler": h.handler, "silent": h.silent, "is_location": h.is_location,
             "directory": h.directory}
    h.next()
    return send(req, {"first": first, "after": [h.handler, h.directory]})


def extension(req):
    return send(req, {"extension": req.extension})


def exts(req):
    return send(req, sorted(req.get_addhandler_exts().split()))


def add_beside(req):
    # no directory: found beside this handler, as 3.5 did via sys.path
    req.add_handler("PythonHandler", "beside::added")
    req.write("first;")
    return apache.OK


def add_dir(req):
    req.add_handler("PythonHandler", "elsewhere::added", req.hlist.directory + "../sub/../sub")
    req.write("first;")
    return apache.OK


def options(req):
    opts = req.get_options()
    before = dict(opts)
    opts["written"] = "yes"
    cfg = req.get_config()
    cfg["PythonFake"] = "1"
    srv = req.server.get_options()
    count = int(srv.get("count", "0")) + 1
    srv["count"] = str(count)
    return send(req, {"before": before, "again": dict(req.get_options()),
                      "config": req.get_config().get("PythonFake"),
                      "server_count": count, "server_level": srv.get("server_level")})


def cleanup_data(req):
    path = req.get_options().get("mode")
    got = []

    def cb(data):
        got.append(data)
        with open(req.server.error_fname + ".cleanup", "a") as f:
            f.write(repr(data) + "\n")
    req.register_cleanup(cb)
    req.register_cleanup(cb, "with data")
    return send(req, {"ok": path})


class Greeter:
    def __init__(self, req):
        self.who = req.args

    def hello(self, req):
        return "hello " + self.who


def apache_helpers(req):
    import _apache
    import classy
    obj = apache.resolve_object(classy, "Page.render", arg=req)
    try:
        apache.resolve_object(classy, "nope")
        missing = None
    except AttributeError as e:
        missing = str(e)
    try:
        raise _apache.SERVER_RETURN(apache.HTTP_OK)
    except apache.SERVER_RETURN:
        same = True
    return send(req, {"bound_to": type(obj.__self__).__name__, "missing": missing,
                      "silent": apache.resolve_object(classy, "nope", silent=1),
                      "mtime": apache.module_mtime(classy) > 0, "same_exception": same})


def members(req):
    """The names each object offers, for the test to compare with 3.5's."""
    import _apache
    fs = apache.stat(__file__, apache.APR_FINFO_MIN)
    return send(req, {"request": dir(req), "connection": dir(req.connection),
                      "server": dir(req.server), "table": dir(req.headers_in),
                      "hlist": dir(req.hlist), "finfo": dir(fs),
                      "_apache": dir(_apache), "apache": dir(apache),
                      "types": [type(o).__name__ for o in
                                (req, req.connection, req.server, req.headers_in,
                                 req.hlist, fs)]})
