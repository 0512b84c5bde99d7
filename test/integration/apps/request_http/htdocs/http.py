"""mod_python 3.5's HTTP helpers of the request object, used as a 3.5
application uses them: /app/x?<action> or /auth/x?<action>."""
import json

from mod_python import apache


def handler(req):
    return globals()["do_" + (req.args or "auth")](req)


def out(req, obj):
    req.content_type = "application/json"
    req.write(json.dumps(obj))
    return apache.OK


def do_auth(req):
    pw = req.get_basic_auth_pw()
    return out(req, {"type": req.auth_type(), "name": req.auth_name(),
                     "pw": pw, "user": req.user})


def do_conditions(req):
    req.update_mtime(1700000000.5)
    req.set_last_modified()
    req.set_etag()
    rc = req.meets_conditions()
    if rc != apache.OK:
        return rc
    req.content_type = "text/plain"
    req.write("fresh")
    return apache.OK


def do_discard(req):
    rc = req.discard_request_body()
    return out(req, {"rc": rc, "left": req.read().decode()})


def do_https(req):
    return out(req, {"https": req.is_https(),
                     "protocol": req.ssl_var_lookup("SSL_PROTOCOL")})


def do_host(req):
    return out(req, {"host": req.get_remote_host(apache.REMOTE_NOLOOKUP),
                     "pair": req.get_remote_host(apache.REMOTE_NOLOOKUP, 1),
                     "default": req.get_remote_host()})


def do_allow(req):
    req.allow_methods(["GET", "PUT"])
    req.allow_methods(["BREW"])
    return apache.HTTP_METHOD_NOT_ALLOWED


def do_allow_reset(req):
    req.allow_methods(["GET", "PUT"])
    req.allow_methods(["POST"], 1)
    return apache.HTTP_METHOD_NOT_ALLOWED


def do_header(req):
    req.content_type = "text/plain"
    req.send_http_header()
    req.write("after header")
    return apache.OK


def do_bad(req):
    errors = []
    for call in (lambda: req.update_mtime("x"), lambda: req.update_mtime(-1.0),
                 lambda: req.allow_methods(5), lambda: req.allow_methods(["A\r\nB"]),
                 lambda: req.get_remote_host(9), lambda: req.ssl_var_lookup()):
        try:
            call()
            errors.append(None)
        except Exception as e:
            errors.append(type(e).__name__)
    return out(req, errors)


def do_attrs(req):
    u = req.parsed_uri
    return out(req, {
        "path": u[apache.URI_PATH], "query": u[apache.URI_QUERY],
        "port": u[apache.URI_PORT], "scheme": u[apache.URI_SCHEME], "len": len(u),
        "content_languages": req.content_languages,
        "allowed_xmethods": req.allowed_xmethods,
        "allowed_methods": req.allowed_methods,
        "allowed": req.allowed, "read_body": req.read_body, "eos_sent": req.eos_sent,
        "useragent_addr": req.useragent_addr,
        "next": req.next, "prev": req.prev, "main": req.main})


def do_redirect(req):
    req.internal_redirect("/app/x?redirected")
    return apache.OK


def do_redirected(req):
    prev = req.prev
    return out(req, {"prev_args": prev.args, "prev_next_is_me": prev.next is req,
                     "main": req.main, "prev_prev": prev.prev})


def do_server(req):
    import mod_python.python22  # noqa: F401  (3.5 applications import it)
    s = req.server
    return out(req, {"next": s.next is None or s.next.server_hostname,
                     "path": s.path, "pathlen": s.pathlen,
                     "generation": s.my_generation, "restart_time": s.restart_time})
