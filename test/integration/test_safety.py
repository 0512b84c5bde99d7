"""Safety (issue 10): no handler can crash a child, hang the server, or see
another request's data.  Event and prefork, one child each, so that what
one request leaves behind is what the next one finds."""
import http.client
import json
import os
import socket
import threading
import time

import pytest

from harness import Httpd, one_child, wait_for

APP = r'''
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
            if type(o).__name__ == "request" and o is not req]

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
        found.extend(r for r in gc.get_referents(o) if type(r).__name__ == "request")
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
'''

CONF = """
Timeout 10
<Directory {app}>
    SetHandler mod_python
    PythonHandler safe
</Directory>
"""


@pytest.fixture(scope="module", params=["event", "prefork"])
def srv(request):
    h = Httpd(request.param)
    try:
        h.write("htdocs/app/safe.py", APP)
        h.write("htdocs/app/data.txt", "0123456789")
        os.makedirs(h.path("htdocs/app/subdir"))
        h.config(CONF.format(app=h.path("htdocs", "app")),
                 mpm_settings=one_child(request.param))
        h.start()
        yield h
    finally:
        h.cleanup()


def get(srv, name, **kw):
    return srv.get("/app/x?" + name, **kw)


def child_pid(srv):
    r = get(srv, "ok")
    assert r.status == 200, r
    return int(r.body.split()[1])


def assert_no_crash(srv, pid):
    assert child_pid(srv) == pid, "the child died"
    log = srv.log()
    assert "exit signal" not in log and "Segmentation" not in log, log[-3000:]


# ------------------------------------------------------------ 1. conn notes

def test_connection_notes_live_as_long_as_the_connection(srv):
    pid = child_pid(srv)
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=10)
    try:
        c.request("GET", "/app/x?cnotes_set")
        r = c.getresponse()
        first = r.read()
        assert r.status == 200 and first.startswith(b"v"), (r.status, first)
        c.request("GET", "/app/x?cnotes_get")  # same keep-alive connection
        r = c.getresponse()
        assert r.read() == b"'" + first + b"'"
    finally:
        c.close()
    assert get(srv, "cnotes_get").body == b"None"  # a new connection: empty
    assert_no_crash(srv, pid)


# ------------------------------------------------------------ 2. threads

def test_thread_using_req_while_the_handler_waits(srv):
    pid = child_pid(srv)
    r = get(srv, "thread_join")
    assert r.status == 200
    out = json.loads(r.body[r.body.index(b"["):])
    assert len(out) == 7 and all(":RuntimeError:" in o for o in out), out
    assert "thread" in out[0]
    assert_no_crash(srv, pid)


def test_thread_using_req_after_the_handler_returned(srv):
    pid = child_pid(srv)
    assert get(srv, "thread_late").body == b"started"
    assert wait_for(lambda: get(srv, "thread_late_result").body != b"[]", timeout=10)
    out = json.loads(get(srv, "thread_late_result").body)[-1]
    assert len(out) == 7 and all(":RuntimeError:" in o for o in out), out
    assert_no_crash(srv, pid)


@pytest.fixture(scope="module")
def slow_srv():
    """Event, with socket buffers so small that a 256 KiB response is still
    being written when its handler returns."""
    h = Httpd("event")
    try:
        h.write("htdocs/app/safe.py", APP)
        h.config(CONF.format(app=h.path("htdocs", "app")) + "SendBufferSize 4096\n",
                 mpm_settings=one_child("event"))
        h.start()
        yield h
    finally:
        h.cleanup()


def test_cleanup_uses_req_when_a_slow_client_finishes_the_request(slow_srv):
    """The event MPM finishes writing to a slow client after the handler
    returned, in whichever worker the connection wakes up in: the request's
    pool, and register_cleanup()'s callables with it, are destroyed there."""
    srv = slow_srv
    pid = child_pid(srv)
    for _ in range(4):
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.settimeout(20)
        s.connect(("127.0.0.1", srv.port))
        s.sendall(b"GET /app/x?cleanup_after_slow_client HTTP/1.1\r\n"
                  b"Host: localhost\r\nConnection: close\r\n\r\n")
        time.sleep(0.3)           # the handler returns with data still queued
        n = 0
        while True:
            chunk = s.recv(1 << 16)
            if not chunk:
                break
            n += len(chunk)
        s.close()
        assert n > 256 << 10
    assert wait_for(lambda: srv.log().count("cleanup saw /app/x") >= 4), srv.log()[-2000:]
    assert "cleanup refused" not in srv.log()
    assert_no_crash(srv, pid)


# ------------------------------------------------------------ 3. stale conn

def test_connection_kept_after_its_request_raises(srv):
    pid = child_pid(srv)
    assert get(srv, "keep_conn").body == b"kept"   # that connection closes
    r = get(srv, "use_conn")
    assert json.loads(r.body) == ["ip:RuntimeError", "notes:RuntimeError",
                                  "cnotes:RuntimeError", "log:RuntimeError",
                                  "table:RuntimeError"]
    assert_no_crash(srv, pid)


# ------------------------------------------------------------ 12. references

def test_stale_request_members_and_setdefault_take_no_reference(srv):
    assert get(srv, "keep_req_objects").body == b"kept"
    before, after, empty = json.loads(get(srv, "stale_refcounts").body)
    assert before == after
    assert empty < 100, "table.setdefault() leaked a reference per call"


# ------------------------------------------------------------ 4. other requests

def test_saved_request_is_never_handed_to_another_request(srv):
    pid = child_pid(srv)
    assert get(srv, "save_req").body == b"saved"
    for _ in range(5):
        assert get(srv, "victim", headers={"X-Secret": "s3cr3t"}).body == b"fresh"
    assert b"LEAK" not in get(srv, "peek").body
    assert_no_crash(srv, pid)


def test_objects_found_through_gc_are_not_reused(srv):
    pid = child_pid(srv)
    for _ in range(3):      # leave ended requests' objects behind
        get(srv, "ok")
    get(srv, "gc_grab")
    for _ in range(5):
        assert get(srv, "victim", headers={"X-Secret": "s3cr3t"}).body == b"fresh"
    body = get(srv, "peek").body
    assert b"LEAK" not in body, body
    assert_no_crash(srv, pid)


def test_live_requests_are_not_reachable_through_gc(srv):
    if srv.mpm == "prefork":
        pytest.skip("one request at a time per child")
    out = []
    t = threading.Thread(target=lambda: out.append(
        get(srv, "victim", headers={"X-Secret": "s3cr3t", "X-Sleep": "1.5"})))
    t.start()
    time.sleep(0.5)
    try:
        assert get(srv, "gc_scan").body == b"0"
        get(srv, "gc_grab")
        body = get(srv, "peek").body
        assert b"s3cr3t" not in body, body
    finally:
        t.join()
    assert out[0].body == b"fresh"


# ------------------------------------------------------------ 5. and 8. values

@pytest.mark.parametrize("name,value", [
    ("ret_suspended", "-3"), ("ret_filter_error", "-102"),
    ("raise_suspended", "-3"), ("ret_2_32", str(2 ** 32)),
    ("raise_2_100", str(2 ** 100)), ("raise_bad_status", str(2 ** 40)),
])
def test_reserved_or_out_of_range_results_are_500(srv, name, value):
    pid = child_pid(srv)
    r = get(srv, name, timeout=5)
    assert r.status == 500, r
    assert wait_for(lambda: "safe" in srv.log() and value in srv.log()), srv.log()[-2000:]
    assert_no_crash(srv, pid)


def test_suspended_handlers_do_not_exhaust_workers(srv):
    for _ in range(20):
        assert get(srv, "ret_suspended", timeout=5).status == 500
    assert get(srv, "ok", timeout=5).status == 200


def test_plain_status_result_still_works(srv):
    assert get(srv, "ret_teapot").status == 410


@pytest.mark.parametrize("name", ["status_999", "status_big"])
def test_bad_status_attribute_raises(srv, name):
    r = get(srv, name)
    assert r.status == 500
    assert wait_for(lambda: "h_%s" % name in srv.log()), srv.log()[-2000:]
    assert "ValueError" in srv.log() or "OverflowError" in srv.log()


def test_write_over_2_gib_is_written_completely(srv):
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=60)
    try:
        c.request("GET", "/app/x?big_write")
        r = c.getresponse()
        assert r.status == 200
        n = 0
        while True:
            chunk = r.read(1 << 22)
            if not chunk:
                break
            n += len(chunk)
    finally:
        c.close()
    assert n == 2 ** 31 + 10


# ------------------------------------------------------------ 9. sendfile

def test_sendfile_range(srv):
    assert get(srv, "sendfile&data.txt&2&3").body == b"234"
    assert get(srv, "sendfile&data.txt&4").body == b"456789"
    assert get(srv, "sendfile&data.txt").body == b"0123456789"
    assert get(srv, "sendfile&data.txt&10&0").body == b""


@pytest.mark.parametrize("args,problem", [
    ("data.txt&-1", "offset"), ("data.txt&0&11", "past the end"),
    ("data.txt&11", "past the end"), ("data.txt&0&-5", "length"),
    ("subdir", "directory"), ("missing.txt", "No such file"),
])
def test_sendfile_bad_arguments(srv, args, problem):
    r = get(srv, "sendfile&" + args)
    assert r.status == 500, r
    assert wait_for(lambda: problem in srv.log()), srv.log()[-2000:]


# ------------------------------------------------------------ 10. text

def raw_request(srv, target, headers=b""):
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=10)
    try:
        s.sendall(b"GET " + target + b" HTTP/1.0\r\nHost: localhost\r\n" + headers +
                  b"Connection: close\r\n\r\n")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    hdrs = dict(l.split(b": ", 1) for l in lines[1:])
    return int(lines[0].split()[1]), hdrs, body


@pytest.mark.parametrize("raw", [b"\xe2\x82\xac", b"caf\xc3\xa9", b"caf\xe9",
                                 b"\xed\xb2\x80", b"\xff\xfe"])
def test_bytes_round_trip_from_uri_and_headers(srv, raw):
    quoted = b"".join(b"%%%02X" % c for c in raw)
    status, hdrs, body = raw_request(srv, b"/app/" + quoted + b"?echo",
                                     b"X-In: " + raw + b"\r\n")
    assert status == 200
    assert hdrs[b"X-Uri"] == b"/app/" + raw
    assert hdrs[b"X-In"] == raw
    assert body == b"/app/" + raw + b"|" + raw


def test_str_written_as_utf8(srv):
    status, hdrs, body = raw_request(srv, b"/app/x?typed")
    assert hdrs[b"X-Typed"] == "caf\u00e9 \u20ac".encode("utf-8")
    assert body.endswith("caf\u00e9".encode("utf-8"))


@pytest.mark.parametrize("name,error", [("lone_surrogate", "UnicodeEncodeError"),
                                        ("crlf", "CR or LF")])
def test_text_that_cannot_be_sent_is_refused(srv, name, error):
    r = get(srv, name)
    assert r.status == 500
    assert b"x=1" not in r.headers.get("Set-Cookie", "").encode()
    assert wait_for(lambda: error in srv.log()), srv.log()[-2000:]
