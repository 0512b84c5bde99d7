"""Reading request bodies and reporting long tracebacks without quadratic
time or memory (issue 10, items 6 and 7).  Event and prefork MPMs.

req.read / readline / readlines are checked call by call against
io.BytesIO, the reference for "at most n bytes, stop at a newline" and
"whole lines until the total reaches hint".  The handlers and their
configuration are in apps/safety_body/."""
import http.client
import io
import json
import os
import runpy
import socket
import threading
import time

import pytest

from conftest import MPMS
from harness import APPS, ASAN, Httpd, one_child, wait_for

MIB = 1 << 20

MPM_PARAMS = [m for m in ("event", "prefork") if m in MPMS]

# a read call's result as the handler reports it (bytes as JSON)
encode = runpy.run_path(os.path.join(APPS, "safety_body", "htdocs", "app",
                                     "bodyresult.py"))["encode"]


def start(h, mpm_settings=None):
    h.config(h.install_app("safety_body"), mpm_settings=mpm_settings)
    h.start()
    return h


@pytest.fixture(scope="module", params=MPM_PARAMS)
def srv(request):
    # prefork: two children, so that a request can be answered while one
    # child reads a long body
    h = Httpd(request.param)
    try:
        yield start(h, one_child("event") if request.param == "event" else None)
    finally:
        h.cleanup()


def post(srv, path, body, pieces=None, chunked=False, delay=0.0, timeout=60):
    """POST `body` over a raw socket, sent in `pieces` bytes at a time
    (`delay` s apart), with Content-Length or chunked: (status, body)."""
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=timeout)
    try:
        head = b"POST %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n" % path.encode()
        head += (b"Transfer-Encoding: chunked\r\n\r\n" if chunked
                 else b"Content-Length: %d\r\n\r\n" % len(body))
        s.sendall(head)
        step = pieces or max(len(body), 1)
        for i in range(0, len(body), step):
            piece = body[i:i + step]
            s.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
            if delay:
                time.sleep(delay)
        if chunked:
            s.sendall(b"0\r\n\r\n")
        r = http.client.HTTPResponse(s)
        r.begin()
        return r.status, r.read()
    finally:
        s.close()


def expected(body, calls):
    f = io.BytesIO(body)
    out = []
    for call in calls.split(","):
        name, _, arg = call.partition(":")
        fn = getattr(f, name)
        out.append(encode(fn(int(arg)) if arg else fn()))
    return out


LONG = b"a" * 65535 + b"\n" + b"b" * 70000 + b"\n" + b"c" * 10

CASES = {
    "empty": (b"", "readline,readline:5,readlines,readlines:3,read,read:4"),
    "n_smaller_than_line": (b"x" * 100 + b"\nyz\n",
                            "readline:30,readline:30,readline:30,readline:30,readline:30,"
                            "readline:1,readline:0,readline,readline"),
    "crlf_and_last_line": (b"abc\r\ndef\r\n\r\nlast", "readline:2,readline,readline,readline,"
                           "readline,readline"),
    "readlines_hint": (b"a\nbb\nccc\ndddd\neeeee", "readlines:1,readlines:2,readlines:5,"
                       "readlines:0"),
    "readlines_hint_all": (b"a\r\nbb\r\nccc", "readlines:100,readlines"),
    "mixed_read": (b"line one\nline two\nthe rest", "readline:3,read:3,readline,read:0,"
                   "readline:4,read,read"),
    "across_reads": (LONG, "readline:65535,readline,readline:100000,readline:5,readlines"),
    "across_reads_read": (LONG, "read:65534,readline,readline:1,read:3,readline,read"),
    "line_longer_than_chunks": (b"q" * 300000 + b"\n" + b"r" * 5 + b"\n",
                                "readline,readlines:1,read"),
    "readlines_across": (b"".join(b"%d " % i * 500 + b"\n" for i in range(400)),
                         "readlines:70000,readlines:1,readline:10,readlines"),
    "multi_mb_no_newline": (b"m" * (5 * MIB + 17), "readline,readline,read"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_read_calls_match_bytesio(srv, case):
    body, calls = CASES[case]
    status, out = post(srv, "/app/calls?" + calls, body)
    assert status == 200, out[:2000]
    assert json.loads(out) == expected(body, calls)


@pytest.mark.parametrize("case", ["across_reads", "crlf_and_last_line", "readlines_across"])
def test_read_calls_on_trickled_chunked_body(srv, case):
    """Chunked, in odd-sized pieces a moment apart: reads come back short."""
    body, calls = CASES[case]
    small = len(body) < 100
    status, out = post(srv, "/app/calls?" + calls, body, pieces=3 if small else 4099,
                       chunked=True, delay=0.002 if small else 0.0005)
    assert status == 200, out[:2000]
    assert json.loads(out) == expected(body, calls)


def test_readline_of_a_large_body_without_newline_is_fast(srv):
    """16 MB, no newline: linear (13 s here, and 47 s for 32 MB, when
    every 8 KiB read copied and re-scanned the whole buffer).  The body
    arrives over about a second; meanwhile the server answers other requests
    (event: the same child, whose interpreter must not be frozen by the
    read)."""
    size = 16 * MIB
    result = []
    t = threading.Thread(target=lambda: result.append(
        post(srv, "/app/timed", b"z" * size, pieces=MIB, delay=0.05)))
    t0 = time.time()
    t.start()
    answered = []
    while t.is_alive() and time.time() - t0 < 60:
        q = time.time()
        r = srv.get("/app/ok", timeout=30)
        assert r.status == 200
        answered.append((time.time() - q, json.loads(r.body)[1], t.is_alive()))
        time.sleep(0.05)
    t.join(60)
    took = time.time() - t0
    status, out = result[0]
    assert status == 200, out[:2000]
    n, zs, handler_took, pid = json.loads(out)
    assert n == zs == size
    assert took < 10, "readline of 16 MB took %.1f s (%.1f s in the handler)" % (
        took, handler_took)
    during = [a for a in answered if a[2]]
    assert during, "no request was answered while the body was read"
    assert max(a[0] for a in during) < 2.0, during
    if srv.mpm != "prefork":
        assert pid in [a[1] for a in during], "the reading child answered nothing meanwhile"


@pytest.mark.parametrize("size,n", [(32 * MIB, MIB), (4 * MIB, 1000)])
def test_readline_n_on_a_huge_line_is_bounded(srv, size, n):
    status, out = post(srv, "/app/bounded?%d" % n, b"w" * size)
    assert status == 200, out[:2000]
    total, longest, calls, grew = json.loads(out)
    assert total == size and longest == n and calls == -(-size // n)
    # the buffer holds about twice what was asked for, plus a read's worth
    assert ASAN or grew < 8 * MIB, "readline(%d) grew the child by %d bytes" % (n, grew)


def test_body_read_from_another_thread_is_refused(srv):
    status, out = post(srv, "/app/two_readers", b"0123456789", pieces=5, delay=1.0)
    assert status == 200, out[:2000]
    assert json.loads(out) == {"handler": 10, "thread": "the request can only be used "
                               "from the thread serving it (not from another thread)"}


def test_one_huge_traceback_line_is_cut_cleanly(srv):
    """A 600 KB exception message, to be escaped to 1.4 MB: shown up to the
    cap, cut between whole characters and whole entities."""
    r = srv.get("/app/huge_message")
    assert r.status == 500
    assert len(r.body) <= 256 * 1024 + 200, len(r.body)
    text = r.body.decode("utf-8")  # not cut inside a character
    shown, note = text.rsplit("\n... traceback cut: ", 1)
    assert note == "1 more lines, see the error log\n</pre>\n"
    tail = shown.rsplit("ValueError: ", 1)[1]
    assert len(tail) > 200 * 1024 // 5
    assert tail.replace("\u00e9&lt;", "") in ("", "\u00e9"), tail[-50:]


def memory(h):
    r = h.get("/app/memory")
    assert r.status == 200
    return json.loads(r.body)


@pytest.mark.parametrize("mpm", MPM_PARAMS)
def test_long_traceback_page_is_capped(httpd_factory, mpm):
    """PythonDebug On, 3000 distinct frames: a 500 whose page is capped with
    a note, the whole traceback in the error log, the child's memory
    modest (building the page by repeated concatenation took hundreds of MB
    here) and the child still serving."""
    h = start(httpd_factory(mpm), one_child(mpm))
    small = h.get("/app/shallow")
    assert small.status == 500 and b"shallow &amp; short" in small.body
    assert b"traceback cut" not in small.body
    rss0, peak0, pid = memory(h)

    t = time.time()
    r = h.get("/app/deep?3000", timeout=120)
    took = time.time() - t
    assert r.status == 500
    assert r.body.startswith(b'<pre>\nMod_python error: "PythonHandler body::deep"')
    assert r.body.endswith(b"see the error log\n</pre>\n"), r.body[-500:]
    assert 200 * 1024 < len(r.body) <= 256 * 1024 + 200, len(r.body)
    cut = int(r.body.rsplit(b"traceback cut: ", 1)[1].split()[0])
    assert cut > 1000
    assert b"<reached>" not in r.body  # escaped, were it shown at all

    rss1, peak1, pid1 = memory(h)
    assert pid1 == pid, "the child died"
    assert ASAN or peak1 - peak0 < 64 * MIB, "peak RSS grew by %d bytes" % (peak1 - peak0)
    assert ASAN or rss1 - rss0 < 32 * MIB, "RSS grew by %d bytes" % (rss1 - rss0)
    assert took < 30
    # the log keeps every line, the last one included
    assert wait_for(lambda: "PythonHandler body::deep: RuntimeError: deep bottom <reached>"
                    in h.log())
    assert h.log().count("in a\n") + h.log().count("in b\n") >= 3000
