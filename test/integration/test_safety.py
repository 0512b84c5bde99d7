"""Safety (issue 10): no handler can crash a child, hang the server, or see
another request's data.  Event and prefork, one child each, so that what
one request leaves behind is what the next one finds.  The handlers and
their configuration are in apps/safety/."""
import http.client
import json
import os
import socket
import threading
import time

import pytest

from harness import Httpd, one_child, wait_for


@pytest.fixture(scope="module", params=["event", "prefork"])
def srv(request):
    h = Httpd(request.param)
    try:
        conf = h.install_app("safety")
        os.makedirs(h.path("htdocs/app/subdir"))  # git keeps no empty directory
        h.config(conf, mpm_settings=one_child(request.param))
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
        h.config(h.install_app("safety") + "SendBufferSize 4096\n",
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


def test_bad_status_attribute_raises(srv):
    r = get(srv, "status_big")
    assert r.status == 500
    assert wait_for(lambda: "h_status_big" in srv.log()), srv.log()[-2000:]
    assert "ValueError" in srv.log() or "OverflowError" in srv.log()


def test_status_httpd_cannot_send_is_answered_500(srv):
    # any C int is accepted, as in 3.5; httpd sends 500 for this one
    pid = child_pid(srv)
    assert get(srv, "status_999").status == 500
    assert "h_status_999" not in srv.log()
    assert_no_crash(srv, pid)


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
