import gc, json, os, threading, time
from mod_python import apache

saved = {}
late = []

def handler(req):
    req.content_type = "text/plain"
    name = (req.args or "ok").split("&")[0]
    return globals()["h_" + name](req)

def h_ok(req):
    req.write("ok %d" % os.getpid())
    return apache.OK

# ---- 1. connection notes
def h_cnotes_set(req):
    req.connection.notes["k"] = "v%d" % req.connection.id
    req.connection.notes.add("multi", "a")
    req.write(req.connection.notes["k"])
    return apache.OK

def h_cnotes_get(req):
    req.write(repr(req.connection.notes.get("k")))
    return apache.OK

# ---- 2. threads
def attempts(req):
    out = []
    for what, f in (("write", lambda: req.write("x")), ("flush", req.flush),
                    ("read", lambda: req.read(1)), ("readline", req.readline),
                    ("uri", lambda: req.uri), ("headers", lambda: req.headers_in.get("host")),
                    ("conn", lambda: req.connection.client_ip)):
        try:
            f()
            out.append(what + ":ok")
        except RuntimeError as e:
            out.append(what + ":RuntimeError:" + str(e))
    return out

def h_thread_join(req):
    out = []
    t = threading.Thread(target=lambda: out.extend(attempts(req)))
    t.start()
    t.join()
    req.write(json.dumps(out))
    return apache.OK

def h_thread_late(req):
    def work():
        time.sleep(0.3)
        late.append(attempts(req))
    threading.Thread(target=work).start()
    req.write("started")
    return apache.OK

def h_thread_late_result(req):
    req.write(json.dumps(late))
    return apache.OK

def h_cleanup_after_slow_client(req):
    """The request's pool may be destroyed by another thread than this one
    (event: write completion): cleanups still use req."""
    def cleanup(r):
        try:
            r.log_error("cleanup saw %s" % r.uri)
        except RuntimeError as e:
            apache.log_error("cleanup refused: %s" % e)
    req.register_cleanup(cleanup, req)
    req.content_type = "application/octet-stream"
    req.write(b"c" * (256 << 10), 0)
    return apache.OK

# ---- 3. a connection kept after its request
def h_keep_conn(req):
    saved["conn"] = req.connection
    saved["notes"] = req.connection.notes
    saved["table"] = req.headers_in
    req.write("kept")
    return apache.OK

def h_use_conn(req):
    out = []
    for what, f in (("ip", lambda: saved["conn"].client_ip),
                    ("notes", lambda: saved["notes"].get("k")),
                    ("cnotes", lambda: saved["conn"].notes),
                    ("log", lambda: saved["conn"].log_error("stale")),
                    ("table", lambda: saved["table"].get("host"))):
        try:
            f()
            out.append(what + ":ok")
        except RuntimeError:
            out.append(what + ":RuntimeError")
    req.write(json.dumps(out))
    return apache.OK

# ---- 12. references
def h_keep_req_objects(req):
    saved["stale"] = req
    saved["server"] = req.server
    saved["conn"] = req.connection
    req.write("kept")
    return apache.OK

def h_stale_refcounts(req):
    import sys
    before = [sys.getrefcount(saved["server"]), sys.getrefcount(saved["conn"])]
    for _ in range(1000):
        for name in ("server", "connection"):
            try:
                getattr(saved["stale"], name)
            except RuntimeError:
                pass
    t = apache.table()
    empty = sys.getrefcount("")     # setdefault(k)'s default: the "" singleton
    for i in range(1000):
        t.setdefault("k%d" % i)
    empty = sys.getrefcount("") - empty
    after = [sys.getrefcount(saved["server"]), sys.getrefcount(saved["conn"])]
    req.write(json.dumps([before, after, empty]))
    return apache.OK

# ---- 4. request objects of other requests
def others(req):
    return [o for o in gc.get_objects()
            if type(o).__name__ == "mp_request" and o is not req]

def h_save_req(req):
    saved["req"] = req
    req.write("saved")
    return apache.OK

def h_gc_grab(req):
    found = others(req)
    saved["grabbed"] = found
    req.write(str(len(found)))
    return apache.OK

def h_victim(req):
    """The second client: its secret must not be readable by the others,
    and it must not be served with an object someone else holds."""
    # (a plain loop: a generator expression would put req in a cell, a
    # container the GC tracks, which is the user's doing)
    mine = saved.get("req") is req
    for o in saved.get("grabbed", []):
        mine = mine or o is req
    req.victim_live = True
    time.sleep(float(req.headers_in.get("X-Sleep", "0")))
    req.victim_live = False
    req.write("reused" if mine else "fresh")
    return apache.OK

def h_peek(req):
    out = []
    for o in saved.get("grabbed", []) + [saved.get("req")] + others(req):
        if o is None:
            continue
        try:
            out.append("LEAK:%s" % o.headers_in.get("X-Secret"))
        except RuntimeError:
            out.append("RuntimeError")
    req.write(json.dumps(out))
    return apache.OK

def h_gc_scan(req):
    """The live victim's object, reachable through the GC?"""
    found = others(req)
    for o in gc.get_objects():
        found.extend(r for r in gc.get_referents(o) if type(r).__name__ == "mp_request")
    live = {id(o) for o in found if getattr(o, "victim_live", False)}
    req.write(str(len(live)))
    return apache.OK

# ---- 5. and 8. return values
def h_ret_suspended(req):
    return -3

def h_ret_filter_error(req):
    return -102

def h_raise_suspended(req):
    raise apache.SERVER_RETURN(-3)

def h_ret_2_32(req):
    return 2 ** 32

def h_raise_2_100(req):
    raise apache.SERVER_RETURN(2 ** 100)

def h_raise_bad_status(req):
    raise apache.SERVER_RETURN((apache.OK, 2 ** 40))

def h_ret_teapot(req):
    return 410

def h_status_999(req):
    req.status = 999
    return apache.OK

def h_status_big(req):
    req.status = 2 ** 70
    return apache.OK

def h_big_write(req):
    req.content_type = "application/octet-stream"
    req.write(bytearray(2 ** 31 + 10))
    return apache.OK

# ---- 9. sendfile
def h_sendfile(req):
    args = req.args.split("&")[1:]
    path = os.path.join(os.path.dirname(__file__), args[0])
    n = req.sendfile(path, *[int(a) for a in args[1:]])
    req.log_error("sendfile sent %d" % n)
    return apache.OK

# ---- 10. text in and out
def h_echo(req):
    req.headers_out["X-Uri"] = req.uri
    req.headers_out["X-In"] = req.headers_in.get("X-In", "")
    req.write(req.uri + "|" + req.headers_in.get("X-In", ""))
    return apache.OK

def h_typed(req):
    req.headers_out["X-Typed"] = "caf\u00e9 \u20ac"
    req.write("caf\u00e9")
    return apache.OK

def h_lone_surrogate(req):
    req.headers_out["X-Bad"] = "\ud800"
    return apache.OK

def h_crlf(req):
    req.headers_out["X-Bad"] = "a\r\nSet-Cookie: x=1"
    return apache.OK
