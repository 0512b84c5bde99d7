"""Python input and output filters (PythonInputFilter, PythonOutputFilter,
req.register_*_filter, req.add_*_filter, the filter object), used as
mod_python 3.5 applications use them, against a real httpd: event and
prefork, worker where threads matter."""
import gzip
import hashlib
import http.client
import json
import re
import zlib

import pytest

from harness import ASAN, Httpd, one_child, wait_for

MODULES = ["filter", "deflate"]   # AddOutputFilterByType; DEFLATE by name


def serve(mpm, threads=16):
    h = Httpd(mpm)
    h.config(h.install_app("filters"), mpm_settings=one_child(mpm, threads),
             modules=MODULES)
    # a static file of 1 MB for the gzip filter (AddOutputFilter .gz-me)
    h.write("htdocs/static/big.gz-me", "".join("static line %06d\n" % i
                                               for i in range(55000)))
    h.start()
    return h


@pytest.fixture(scope="module", params=["event", "prefork"])
def srv(request):
    h = None
    try:
        h = serve(request.param)
        yield h
    finally:
        if h:
            h.cleanup()


@pytest.fixture(scope="module")
def worker():
    h = None
    try:
        h = serve("worker")
        yield h
    finally:
        if h:
            h.cleanup()


def piece(i, size):
    """handlers.piece(): the i-th piece of a generated body."""
    unit = b"%07d|" % i
    return (unit * (size // len(unit) + 1))[:size]


def body(n, size):
    return b"".join(piece(i, size) for i in range(n))


def js(r):
    assert r.status == 200, (r.status, r.body[:2000])
    return json.loads(r.body)


def log_since(h, mark):
    return h.log()[mark:]


def gzip_stats(h, mark):
    m = wait_for(lambda: re.search(r"gzip filter: calls=(\d+) total=(\d+) "
                                   r"call_max=(\d+) read_max=(\d+)", log_since(h, mark)))
    assert m, log_since(h, mark)
    return [int(x) for x in m.groups()]


def child_status(h, field):
    (pid,) = h.children()
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise AssertionError(field)


# ------------------------------------------------------------ output filters

@pytest.mark.parametrize("flush", [0, 1])
def test_gzip_filter_streams_a_large_body(srv, flush):
    """1.2 MB in 300 writes: the client gets the body back by gunzip; the
    filter was called many times, never with the whole body."""
    mark = len(srv.log())
    r = srv.get("/app/gz/big?n=300&size=4000&flush=%d" % flush,
                headers={"Accept-Encoding": "gzip"})
    assert r.status == 200, r
    assert r.headers["Content-Encoding"] == "gzip"
    assert "Content-Length" not in r.headers or int(r.headers["Content-Length"]) == len(r.body)
    assert gzip.decompress(r.body) == body(300, 4000)
    calls, total, call_max, read_max = gzip_stats(srv, mark)
    assert total == 300 * 4000
    assert calls >= 20, calls
    assert call_max <= total // 10, (calls, call_max)


def test_gzip_filter_drops_a_stale_content_length(srv):
    """The handler set Content-Length for the raw body: a filter that writes
    changes the length, so the header the client gets is the true one."""
    r = srv.get("/app/gz/big?n=20&size=1000&length=1")
    assert r.status == 200
    assert "Content-Length" not in r.headers or int(r.headers["Content-Length"]) == len(r.body)
    assert gzip.decompress(r.body) == body(20, 1000)


@pytest.mark.skipif(ASAN, reason="ASan's quarantine holds freed memory")
def test_gzip_filter_memory_stays_bounded(srv):
    """32 MB through the gzip filter: the child's peak memory grows by far
    less than the body (nothing holds it whole)."""
    srv.get("/app/gz1/big?n=2&size=1000")
    before = child_status(srv, "VmRSS")
    r = srv.get("/app/gz1/big?n=1024&size=32768&flush=0", timeout=120)
    assert r.status == 200
    d = zlib.decompressobj(31)
    out = d.decompress(r.body) + d.flush()
    assert len(out) == 1024 * 32768
    assert hashlib.sha256(out).digest() == hashlib.sha256(body(1024, 32768)).digest()
    grew = child_status(srv, "VmHWM") - before
    assert grew < 12 * 1024 * 1024, grew


def test_upper_filter_and_static_files(srv):
    assert srv.get("/app/upper/text").body == b"HELLO WORLD"
    r = srv.get("/static/a.txt")
    assert r.status == 200 and r.body == b"A STATIC FILE, SERVED BY HTTPD.\n"
    # the same file under another extension has no filter
    assert srv.get("/static/a.html").body == b"a static file, served by httpd.\n"
    # AddOutputFilterByType (mod_filter) names a Python filter
    assert srv.get("/typed/t.txt").body == b"TYPED TEXT\n"


def test_gzip_filter_on_a_large_static_file(srv):
    """A 1 MB file comes as one bucket: read() gives it in pieces."""
    mark = len(srv.log())
    r = srv.get("/static/big.gz-me")
    assert r.status == 200 and r.headers["Content-Encoding"] == "gzip"
    want = open(srv.path("htdocs/static/big.gz-me"), "rb").read()
    assert gzip.decompress(r.body) == want
    calls, total, call_max, read_max = gzip_stats(srv, mark)
    assert total == len(want) and read_max <= 64 * 1024, (calls, total, read_max)


def test_readline_in_an_output_filter(srv):
    """Lines cut across brigades come as pieces; the end has no newline."""
    r = srv.get("/app/numbered/lines")
    assert r.body == b"1: one\n2: two\n3: three\n4: four"


def test_pass_on(srv):
    r = srv.get("/app/prefixed/big?n=50&size=1000")
    assert r.status == 200 and r.body == b"PREFIX:" + body(50, 1000)


def test_disable_lets_the_rest_through(srv):
    r = srv.get("/app/disabling/text?parts=abc,def,ghi")
    assert r.status == 200 and r.body == b"ABCdefghi"


def test_close_ends_the_response(srv):
    """close() after 10 bytes: the client gets those, the connection stays
    usable, what the handler writes after is dropped."""
    mark = len(srv.log())
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    try:
        conn.request("GET", "/app/head10/big?n=5&size=100")
        r = conn.getresponse()
        assert r.status == 200 and r.read() == body(5, 100)[:10]
        conn.request("GET", "/app/upper/text")
        assert conn.getresponse().read() == b"HELLO WORLD"
    finally:
        conn.close()
    assert wait_for(lambda: "head10 closed=1" in log_since(srv, mark))


def test_filter_reading_nothing_until_the_end(srv):
    assert srv.get("/app/swallow/big?n=30&size=1000").body == b"swallowed"


def test_two_python_filters_in_a_chain(srv):
    assert srv.get("/app/chain/text").body == b"PREFIX:HELLO WORLD"


def test_server_return_is_not_an_error(srv):
    mark = len(srv.log())
    r = srv.get("/app/srvret/text")
    assert r.status == 200 and r.body == b"hello world"
    assert "MP00020" not in log_since(srv, mark)


def test_class_method_handler(srv):
    assert srv.get("/app/wrapped/text").body == b"wrapped:hello world"


def test_filter_attributes(srv):
    r = srv.get("/app/attrs/marker")
    assert r.status == 200 and r.body == b"marked"
    attrs = eval(r.headers["X-Attrs"])
    assert attrs == {"name": "filters::attrs", "handler": "filters::attrs",
                     "dir": srv.path("htdocs", "app") + "/", "is_input": 0, "closed": 0,
                     "softspace": 1, "same_req": "the handler's request object",
                     "type": "mp_filter"}, attrs


def test_section_replaces_a_filter_name(srv):
    assert srv.get("/app/merge/text").body == b"A:hello world"
    assert srv.get("/app/merge/child/text").body == b"B:hello world"


def test_name_not_configured_in_this_section(srv):
    mark = len(srv.log())
    assert srv.get("/app/elsewhere/text").body == b"hello world"
    assert wait_for(lambda: re.search(r"MP00021: PythonOutputFilter static_only is not "
                                      r"configured for /app/elsewhere/text",
                                      log_since(srv, mark))), log_since(srv, mark)


# ------------------------------------------------------------ errors

def test_filter_that_raises_gives_500_and_a_traceback(srv):
    mark = len(srv.log())
    r = srv.get("/app/raises/text")
    assert r.status == 500, r
    assert b"filter boom" not in r.body
    log = wait_for(lambda: "ValueError: filter boom" in log_since(srv, mark) and
                   log_since(srv, mark))
    assert re.search(r"MP00020: PythonOutputFilter raises filters::raises: "
                     r"Traceback \(most recent call last\)", log), log
    assert "MP00020: PythonOutputFilter raises filters::raises: ValueError: filter boom" in log
    # the server goes on
    assert srv.get("/app/upper/text").body == b"HELLO WORLD"


def test_filter_that_raises_with_python_debug(srv):
    r = srv.get("/app/raisesdebug/text")
    assert r.status == 500 and r.headers["Content-Type"].startswith("text/html")
    assert b"Mod_python error" in r.body and b"ValueError: filter boom" in r.body


def test_filter_raising_mid_stream_is_disabled(srv):
    """Once part of the response went out, the rest passes through (3.5)."""
    mark = len(srv.log())
    r = srv.get("/app/raiseslater/text?parts=abc,def,ghi")
    assert r.status == 200 and r.body == b"ABCdefghi"
    assert wait_for(lambda: "ValueError: boom in call 2" in log_since(srv, mark))


def test_input_filter_that_raises(srv):
    mark = len(srv.log())
    r = srv.request("/app/raisesin/echo", method="POST", body=b"x" * 1000)
    assert r.status == 500
    log = wait_for(lambda: "KeyError: 'input boom'" in log_since(srv, mark) and
                   log_since(srv, mark))
    assert "MP00020: PythonInputFilter raises_in filters::raises_in" in log, log
    assert srv.get("/app/upper/text").body == b"HELLO WORLD"


def test_kept_filter_object_raises(srv):
    assert srv.get("/app/keep/text").body == b"hello world"
    d = js(srv.get("/app/x/kept"))
    over = "RuntimeError: the filter call is over"
    for name in ("write", "read", "close", "pass_on", "name"):
        assert d[name].startswith(over), d
    assert d["closed"] == 1 and d["is_input"] == 0 and "call over" in d["repr"], d


def test_filter_object_from_another_thread(srv):
    r = srv.get("/app/threaded/thread")
    assert r.status == 200 and r.body == b"ABC"
    assert r.headers["X-Thread"].startswith("RuntimeError: the request can only be used "
                                            "from the thread serving it"), r.headers


# ------------------------------------------------------------ input filters

def pieces(data, n):
    for i in range(0, len(data), n):
        yield data[i:i + n]


def post(h, path, data, chunked=False, headers=None):
    if chunked:
        data = pieces(data, 70000)
    return h.request(path, method="POST", body=data, headers=headers, timeout=120)


def lower_body(n):
    return bytes(b"abcdefghijklmnopqrstuvwxyz0123456789\n"[i % 37] for i in range(n))


@pytest.mark.parametrize("size,chunked", [(100, False), (3 * 1024 * 1024 + 5, False),
                                          (2 * 1024 * 1024 + 7, True)])
def test_upper_input_filter(srv, size, chunked):
    data = lower_body(size)
    d = js(post(srv, "/app/upperin/echo", data, chunked))
    assert d["len"] == size and d["sha"] == hashlib.sha256(data.upper()).hexdigest(), d


def test_input_filter_sees_the_body_in_pieces(srv):
    data = lower_body(2 * 1024 * 1024)
    d = js(post(srv, "/app/countin/echo", data))
    assert d["sha"] == hashlib.sha256(data.upper()).hexdigest()
    assert d["calls"] >= 16 and d["max"] <= 128 * 1024 and d["is_input"] == 1, d


def test_readline_in_an_input_filter(srv):
    d = js(post(srv, "/app/nocomments/echo?how=lines", b"a\n#b\nc\n#d\ne"))
    assert d["head"] == "a\nc\ne", d
    lines = b"".join(b"#comment %d\n" % i if i % 3 == 0 else b"line %d\n" % i
                     for i in range(60000))
    want = b"".join(l + b"\n" for l in lines.split(b"\n") if l and not l.startswith(b"#"))
    d = js(post(srv, "/app/nocomments/echo", lines, chunked=True))
    assert d["len"] == len(want) and d["sha"] == hashlib.sha256(want).hexdigest()


def test_input_pass_on(srv):
    data = lower_body(300000)
    d = js(post(srv, "/app/passin/echo", data))
    assert d["sha"] == hashlib.sha256(data).hexdigest() and d["passed_in"] >= 1, d


# ------------------------------------------------------------ request methods

def test_register_and_add_output_filter(srv):
    r = srv.get("/app/x/register")
    assert r.status == 200 and r.body == b"HELLO FROM A REGISTERED FILTER"
    r = srv.get("/app/x/register_dir")
    assert r.status == 200 and r.body == b"wrapped:body"


def test_register_and_add_input_filter(srv):
    data = lower_body(200000)
    d = js(post(srv, "/app/x/register_in", data))
    assert d["sha"] == hashlib.sha256(data.upper()).hexdigest(), d


def test_add_output_filter_of_httpd(srv):
    r = srv.get("/app/x/deflate", headers={"Accept-Encoding": "gzip"})
    assert r.status == 200 and r.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(r.body) == b"deflate me " * 2000


def test_add_unknown_filter_raises(srv):
    d = js(srv.get("/app/x/unknown"))
    assert d == {"add_output_filter": "ValueError: no output filter named 'NO_SUCH_FILTER' "
                                      "(neither registered by this request nor known to httpd)",
                 "add_input_filter": "ValueError: no input filter named 'NO_SUCH_FILTER' "
                                     "(neither registered by this request nor known to httpd)"}


def test_filters_after_a_graceful_restart(srv):
    """The names are registered again from the new configuration."""
    srv.graceful()
    assert srv.get("/app/upper/text").body == b"HELLO WORLD"
    assert srv.get("/typed/t.txt").body == b"TYPED TEXT\n"
    assert srv.get("/app/x/register").body == b"HELLO FROM A REGISTERED FILTER"


# ------------------------------------------------------------ threads

def test_concurrent_filtered_requests(worker):
    """16 threads of one child, each request through the gzip filter (the
    GIL given up while the rest of the chain runs) and an upper-casing
    input filter."""
    import concurrent.futures

    def one(i):
        r = worker.get("/app/gz/big?n=%d&size=3000&flush=0" % (40 + i))
        assert r.status == 200
        assert gzip.decompress(r.body) == body(40 + i, 3000)
        data = lower_body(100000 + i)
        d = js(post(worker, "/app/upperin/echo", data))
        assert d["sha"] == hashlib.sha256(data.upper()).hexdigest()
        return True

    with concurrent.futures.ThreadPoolExecutor(16) as ex:
        assert all(ex.map(one, range(48)))
    r = worker.get("/app/threaded/thread")
    assert r.body == b"ABC" and r.headers["X-Thread"].startswith("RuntimeError")


# ------------------------------------------------------------ configuration

BAD = [
    ("PythonOutputFilter", "PythonOutputFilter", "takes 1-2 arguments"),
    ("PythonInputFilter a b c", "PythonInputFilter", "takes 1-2 arguments"),
    ("PythonOutputFilter mod:: NAME", "PythonOutputFilter", "invalid handler 'mod::'"),
    ("PythonInputFilter ::obj NAME", "PythonInputFilter", "invalid handler"),
    ("PythonOutputFilter mod::1x", "PythonOutputFilter", "invalid handler"),
    ('PythonOutputFilter mod "a b"', "PythonOutputFilter", "invalid filter name 'a b'"),
    ("PythonOutputFilter mod MOD_PYTHON", "PythonOutputFilter",
     "the filter name MOD_PYTHON is mod_python's own"),
    ("PythonInputFilter mod mod_python", "PythonInputFilter",
     "the filter name MOD_PYTHON is mod_python's own"),
]


@pytest.mark.parametrize("line,directive,message", BAD)
def test_bad_filter_directive_fails_configtest(httpd_factory, line, directive, message):
    h = httpd_factory("event")
    h.config("# filler\n" + line + "\n")
    ok, out = h.configtest()
    assert not ok, out
    lineno = open(h.conf).read().splitlines().index(line) + 1
    assert "line %d" % lineno in out, out
    assert directive in out and message in out, out


def test_filter_directives_not_in_htaccess(httpd_factory):
    h = httpd_factory("event")
    h.write("htdocs/d/.htaccess", "PythonOutputFilter mod NAME\n")
    h.config("<Directory %s/d>\n    AllowOverride All\n</Directory>\n" % h.htdocs)
    h.start()
    assert h.get("/d/").status == 500
    assert wait_for(lambda: "PythonOutputFilter not allowed here" in h.log()), h.log()


def test_good_filter_config_passes(httpd_factory):
    """Names are registered as the configuration is read: mod_filter's
    AddOutputFilterByType finds them."""
    h = httpd_factory("event")
    h.config("""
        PythonOutputFilter mod
        PythonInputFilter mod::obj IN
        <Directory /tmp>
            PythonOutputFilter /abs/file.py::Cls.meth OUT
            AddOutputFilterByType OUT text/html
            SetInputFilter IN
        </Directory>
        <Location /x>
            PythonOutputFilter ~/rel.py OUT2
            SetOutputFilter OUT2;MOD
        </Location>
    """, modules=["filter"])
    ok, out = h.configtest()
    assert ok, out
