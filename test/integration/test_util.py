"""mod_python.util as 3.5 applications use it, against a real httpd (event
and prefork; worker for concurrent uploads): FieldStorage on query strings,
urlencoded and multipart bodies (files streamed to temporary files with
bounded memory, CR/LF and boundary-like bytes kept exactly, boundaries
split across reads), its callbacks and mapping interface, StringField and
Field, parse_header, apply_fs_data, redirect.  The handlers are in
apps/util/htdocs/forms.py."""
import hashlib
import http.client
import json
import os
import pwd
import random
import re
import socket
import threading
import time

import pytest

from conftest import MPMS
from harness import RUN_USER, Httpd, one_child

MIB = 1 << 20
MPM_PARAMS = [m for m in ("event", "prefork") if m in MPMS]
BOUNDARY = "----mpTestBoundary7MA4YWxkTrZu0gW"


def start(mpm, settings=None):
    h = Httpd(mpm)
    try:
        h.config(h.install_app("util"), mpm_settings=settings or one_child(mpm))
        user = pwd.getpwnam(RUN_USER)
        os.chown(h.path("uploads"), user.pw_uid, user.pw_gid)
        h.start()
    except Exception:
        h.cleanup()
        raise
    return h


@pytest.fixture(scope="module", params=MPM_PARAMS)
def srv(request):
    h = start(request.param)
    try:
        yield h
    finally:
        h.cleanup()


def js(r):
    assert r.status == 200, (r.status, r.body[:2000])
    return json.loads(r.body)


def part(name, data, filename=None, ctype=None, extra=()):
    """One multipart part: (header lines, data)."""
    disp = 'form-data; name="%s"' % name
    if filename is not None:
        disp += '; filename="%s"' % filename
    lines = ["Content-Disposition: " + disp]
    if ctype:
        lines.append("Content-Type: " + ctype)
    lines.extend(extra)
    return lines, data if isinstance(data, bytes) else data.encode()


def multipart(parts, boundary=BOUNDARY, preamble=b"", epilogue=b""):
    b = boundary.encode()
    out = [preamble]
    for lines, data in parts:
        out.append(b"--" + b + b"\r\n" + "\r\n".join(lines).encode() + b"\r\n\r\n" + data + b"\r\n")
    out.append(b"--" + b + b"--\r\n" + epilogue)
    return b"".join(out)


def mp_headers(boundary=BOUNDARY, **extra):
    h = {"Content-Type": "multipart/form-data; boundary=%s" % boundary}
    h.update(extra)
    return h


def post_mp(srv, path, parts, headers=None, **kw):
    return srv.request(path, method="POST", body=multipart(parts, **kw),
                       headers=dict(mp_headers(), **(headers or {})))


def sha(b):
    return hashlib.sha256(b).hexdigest()


def raw_post(srv, path, head_lines, body_pieces, delay=0.0, timeout=120):
    """POST over a raw socket: the header lines, then each piece of the
    body in its own send (`delay` s apart): (status, response body)."""
    s = socket.create_connection(("127.0.0.1", srv.port), timeout=timeout)
    try:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        head = "POST %s HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n" % path
        s.sendall((head + "".join(l + "\r\n" for l in head_lines) + "\r\n").encode())
        for piece in body_pieces:
            s.sendall(piece)
            if delay:
                time.sleep(delay)
        r = http.client.HTTPResponse(s)
        r.begin()
        return r.status, r.read()
    finally:
        s.close()


# ------------------------------------------------------------ urlencoded

def test_query_string_fields_in_order(srv):
    d = js(srv.request("/form/fields?a=1&b=x%20y&a=2&c=&%C3%A9=%C3%A8"))
    assert [(f["name"], f["value"], f["class"]) for f in d] == [
        ("a", "1", "StringField"), ("b", "x y", "StringField"), ("a", "2", "StringField"),
        ("é", "è", "StringField")]
    assert all(f["is_str"] and f["filename"] is None for f in d)


def test_keep_blank_values(srv):
    d = js(srv.request("/form/fields?a=&b=1&c", headers={"X-Keep-Blank": "1"}))
    assert [(f["name"], f["value"]) for f in d] == [("a", ""), ("b", "1"), ("c", "")]


def test_strict_parsing_refuses_a_field_without_equals(srv):
    assert js(srv.request("/form/fields?a=1&bad"))[0]["value"] == "1"
    r = srv.request("/form/fields?a=1&bad", headers={"X-Strict": "1"})
    assert r.status == 500
    assert "ValueError" in srv.log() and "bad query field" in srv.log()


def test_post_urlencoded_after_the_query_string(srv):
    r = srv.request("/form/fields?q=1", method="POST", body=b"a=1&b=%FF%41&a=2;c=3",
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    d = js(r)
    assert [(f["name"], f["value"]) for f in d] == [
        ("q", "1"), ("a", "1"), ("b", "\udcffA"), ("a", "2"), ("c", "3")]


def test_post_without_content_type_is_urlencoded(srv):
    d = js(srv.request("/form/fields", method="POST", body=b"x=1"))
    assert [(f["name"], f["value"]) for f in d] == [("x", "1")]


def test_get_ignores_a_body(srv):
    d = js(srv.request("/form/fields?x=1", method="GET", body=b"y=2"))
    assert [(f["name"], f["value"]) for f in d] == [("x", "1")]


def test_parse_qs_and_parse_qsl_are_apaches(srv):
    d = js(srv.request("/form/qs?a=1&b=&a=2"))
    assert d == {"same": [True, True], "qs": {"a": ["1", "2"], "b": [""]},
                 "qsl": [["a", "1"], ["a", "2"]]}


# ------------------------------------------------------------ multipart

def test_multipart_fields_and_several_files(srv):
    parts = [
        part("title", "Hello wörld"),
        part("doc", b"%PDF-1.4\r\n\x00\x01binary", filename="report.pdf",
             ctype="application/pdf"),
        part("tags", "a"),
        part("pic", b"\x89PNG\r\n\x1a\n" + bytes(range(256)), filename="é.png",
             ctype="image/png; name=\"x\"", extra=["X-Custom: yes"]),
        part("tags", "b"),
        part("empty_input", b"", filename=""),
        part("noext", b"raw", filename="README", ctype="noslash"),
    ]
    d = js(post_mp(srv, "/form/fields?q=0", parts))
    assert [(f["name"], f["class"]) for f in d] == [
        ("q", "StringField"), ("title", "StringField"), ("doc", "Field"),
        ("tags", "StringField"), ("pic", "Field"), ("tags", "StringField"),
        ("empty_input", "StringField"), ("noext", "Field")]
    title, doc, pic = d[1], d[2], d[4]
    assert title["value"] == "Hello wörld" and title["type"] == "text/plain"
    assert title["disposition"] == "form-data"
    assert title["disposition_options"] == {"name": "title"}
    assert doc["filename"] == "report.pdf" and doc["type"] == "application/pdf"
    assert doc["sha256"] == sha(parts[1][1]) and doc["size"] == len(parts[1][1])
    assert pic["filename"] == "é.png" and pic["type"] == "image/png"
    assert pic["type_options"] == {"name": "x"}
    assert pic["disposition_options"] == {"name": "pic", "filename": "é.png"}
    assert pic["headers"]["X-Custom"] == "yes"
    assert pic["headers"]["Content-Type"] == 'image/png; name="x"'
    assert pic["sha256"] == sha(parts[3][1])
    assert d[6]["value"] == "" and d[6]["filename"] is None
    # IE 6 sent rubbish as the type of files without a suffix
    assert d[7]["type"] == "application/octet-stream"


def test_file_value_is_the_files_bytes(srv):
    data = os.urandom(50000)
    d = js(post_mp(srv, "/form/value", [part("file", data, filename="x.bin")]))
    assert d == {"bytes": True, "sha256": sha(data), "same": True, "again": True}


def tricky_bytes(n, boundary=BOUNDARY, seed=0):
    """n bytes of random data strewn with CR, LF, CRLF and near-boundaries
    (each not quite a delimiter)."""
    rnd = random.Random(seed)
    b = boundary.encode()
    pieces = [b"\r", b"\n", b"\r\n", b"\r\r\n", b"\n\r", b"--" + b, b"\r\n--" + b[:-1],
              b"\r\n--" + b + b"x", b"\r\n-" + b, b"--" + b + b"--", b"\r\n\r\n"]
    out, size = [], 0
    while size < n:
        p = rnd.choice(pieces) if rnd.random() < 0.3 else rnd.randbytes(rnd.randrange(1, 300))
        out.append(p)
        size += len(p)
    data = b"".join(out)[:n]
    # pieces side by side can make a real delimiter: make it data again
    real = re.compile(b"\r\n--" + re.escape(b) + b"(?=[ \t]*\r?\n|--|[ \t]*$)")
    while real.search(data):
        data = real.sub(lambda m: m.group(0)[:-1] + b"#", data)
    return data


def test_one_megabyte_binary_file_round_trips_exactly(srv):
    data = b"\r\n" + tricky_bytes(MIB - 3) + b"\r"   # starts with CRLF, ends in CR
    assert len(data) == MIB
    d = js(post_mp(srv, "/form/fields", [part("a", "1"), part("f", data, filename="blob"),
                                         part("b", "2")]))
    f = d[1]
    assert (f["sha256"], f["size"]) == (sha(data), len(data))
    assert [d[0]["value"], d[2]["value"]] == ["1", "2"]


@pytest.mark.parametrize("data", [
    b"\r", b"\n", b"\r\n", b"ends in cr\r", b"ends in crlf\r\n", b"\r\r\r", b"\r\n\r\n",
    b"a\rb\nc\r\nd", b"\r\n--" + BOUNDARY.encode() + b"X not a delimiter",
    b"--" + BOUNDARY.encode() + b"\r\n at the start, without CRLF before it", b""])
def test_cr_and_lf_in_file_data_are_kept(srv, data):
    d = js(post_mp(srv, "/form/fields", [part("f", data, filename="f"), part("after", "z")]))
    assert d[0]["size"] == len(data) and d[0]["sha256"] == sha(data)
    assert d[1]["value"] == "z"


def test_delimiter_split_across_block_edges(srv):
    """The body is read in 64 KiB blocks: put the delimiter after the
    file across every offset of a block edge."""
    head = (b"--" + BOUNDARY.encode() + b"\r\nContent-Disposition: form-data; name=\"f\"; "
            b"filename=\"f\"\r\n\r\n")
    delim = b"\r\n--" + BOUNDARY.encode()
    for shift in range(-2, len(delim) + 4):
        n = 65536 - len(head) - shift
        data = (b"\r\n\r" * n)[:n - 1] + b"\r"
        body = head + data + delim + b"\r\nContent-Disposition: form-data; name=\"z\"\r\n\r\nZ" \
            + delim + b"--\r\n"
        r = srv.request("/form/fields", method="POST", body=body, headers=mp_headers())
        d = js(r)
        assert (d[0]["size"], d[0]["sha256"]) == (len(data), sha(data)), shift
        assert d[1]["value"] == "Z", shift


def test_small_reads_split_everything(srv):
    """A request object that gives the body n bytes at a time (1, 2, 3...)
    puts a read edge at every offset of every delimiter and header."""
    data = tricky_bytes(700, seed=3) + b"\r"
    parts = [part("a", "first"), part("f", data, filename="f.bin", ctype="x/y"),
             part("b", "é\r\nsecond")]
    body = multipart(parts, preamble=b"preamble\r\n", epilogue=b"epilogue")
    for size in (1, 2, 3, 5, 7, 13, 64, 1000):
        d = js(srv.request("/form/small_reads", method="POST", body=body,
                           headers=mp_headers(**{"X-Read-Size": str(size)})))
        # every byte up to the closing delimiter (the epilogue is left)
        assert d["reads"] >= (len(body) - len(b"\r\nepilogue")) // size, size
        f = d["fields"]
        assert [x["name"] for x in f] == ["a", "f", "b"], size
        assert f[0]["value"] == "first" and f[2]["value"] == "é\r\nsecond", size
        assert (f[1]["size"], f[1]["sha256"], f[1]["type"]) == (len(data), sha(data), "x/y")


def test_body_sent_in_small_socket_writes(srv):
    data = tricky_bytes(20000, seed=5)
    body = multipart([part("a", "1"), part("f", data, filename="f"), part("b", "2")])
    cut = 7 * 430   # the headers and the file's start 7 bytes at a time
    pieces = [body[i:i + 7] for i in range(0, cut, 7)] + [body[cut:]]
    status, out = raw_post(srv, "/form/fields",
                           ["Content-Type: " + mp_headers()["Content-Type"],
                            "Content-Length: %d" % len(body)], pieces, delay=0.0005)
    assert status == 200, out
    d = json.loads(out)
    assert [d[0]["value"], d[2]["value"]] == ["1", "2"]
    assert (d[1]["size"], d[1]["sha256"]) == (len(data), sha(data))


def test_chunked_multipart_upload(srv):
    data = tricky_bytes(200000, seed=7)
    body = multipart([part("f", data, filename="f"), part("b", "2")])
    pieces = [b"%x\r\n%s\r\n" % (len(body[i:i + 5000]), body[i:i + 5000])
              for i in range(0, len(body), 5000)] + [b"0\r\n\r\n"]
    status, out = raw_post(srv, "/form/fields",
                           ["Content-Type: " + mp_headers()["Content-Type"],
                            "Transfer-Encoding: chunked"], pieces)
    assert status == 200, out
    d = json.loads(out)
    assert (d[0]["size"], d[0]["sha256"], d[1]["value"]) == (len(data), sha(data), "2")


def test_malformed_multipart_is_tolerated(srv):
    b = BOUNDARY.encode()
    # a part cut off in its headers, a header line without a colon, LF-only
    # line ends after a delimiter, padding after a delimiter, no final CRLF
    body = (b"--" + b + b"  \t\r\nContent-Disposition: form-data; name=\"a\"\r\nbogus line\r\n\r\n"
            b"A\r\n--" + b + b"\nContent-Disposition: form-data; name=\"b\"\n\nB\r\n--" + b +
            b"\r\nContent-Disposition: form-data; name=\"cut\"\r\n--" + b +
            b"\r\nContent-Disposition: form-data; name=\"c\"\r\n\r\nC\r\n--" + b + b"--")
    d = js(srv.request("/form/fields", method="POST", body=body, headers=mp_headers()))
    assert [(f["name"], f["value"]) for f in d] == [("a", "A"), ("b", "B"), ("c", "C")]


def test_body_ending_without_closing_delimiter(srv):
    body = multipart([part("a", "A")])[:-len(BOUNDARY) - 8] + b"\r\n--" + BOUNDARY.encode()
    d = js(srv.request("/form/fields", method="POST", body=body, headers=mp_headers()))
    assert [(f["name"], f["value"]) for f in d] == [("a", "A")]


def test_quoted_boundary_and_parameters(srv):
    b = "odd: b=c? (x)"   # legal boundary characters that need the quotes
    ctype = 'multipart/form-data; charset=utf-8; boundary="%s"' % b
    body = multipart([part("a", "A")], boundary=b)
    d = js(srv.request("/form/fields", method="POST", body=body,
                       headers={"Content-Type": ctype}))
    assert [(f["name"], f["value"]) for f in d] == [("a", "A")]


def test_bad_requests(srv):
    # no Content-Length (and not chunked): 411, as 3.5
    status, _ = raw_post(srv, "/form/fields", ["Content-Type: text/plain"], [])
    assert status == 411
    r = srv.request("/form/fields", method="POST", body=b"x", headers={"Content-Type": "text/xml"})
    assert r.status == 501
    r = srv.request("/form/fields", method="POST", body=b"x",
                    headers={"Content-Type": "multipart/form-data"})
    assert r.status == 400
    # a part's header block is bounded
    body = multipart([part("a", "A", extra=["X-Long: " + "x" * 70000])])
    r = srv.request("/form/fields", method="POST", body=body, headers=mp_headers())
    assert r.status == 400


def test_file_and_field_callbacks(srv):
    data = tricky_bytes(100000, seed=9)
    parts = [part("note", "hi"), part("up", data, filename="../../up.bin"),
             part("up2", b"two", filename="two.txt")]
    d = js(post_mp(srv, "/form/callbacks", parts))
    assert d["calls"] == [["field"], ["file", "../../up.bin"], ["file", "two.txt"]]
    note, up, up2 = d["fields"]
    assert note["value"] == "hi" and note["file_class"] == "Recorded"
    assert up["file_class"] == "BufferedRandom" and up["filename"] == "../../up.bin"
    assert up["path"].startswith(srv.path("uploads") + "/") and up["path"].endswith("-up.bin")
    assert up["on_disk"] == [sha(data), len(data)] == [up["sha256"], up["size"]]
    assert up2["on_disk"] == [sha(b"two"), 3]


# ------------------------------------------------------------ the API

def test_mapping_interface(srv):
    d = js(srv.request("/form/mapping?a=1&a=2&b=3&c=&d=%C3%A9"))
    assert d["a"] == ["1", "2"] and d["a_is_list"] is True
    assert (d["b"], d["b_class"], d["b_name"], d["b_file"]) == ("3", "StringField", "b", "3")
    assert d["d"] == "é"
    assert (d["getfirst_a"], d["getfirst_none"], d["getfirst_default"]) == ("1", None, "dflt")
    assert (d["getlist_a"], d["getlist_none"]) == (["1", "2"], [])
    assert (d["get_b"], d["get_none"]) == ("3", "dflt")
    assert d["has_key"] == [True, False] and d["in"] == [True, False]
    assert d["keys"] == d["iter"] == ["a", "b", "c", "d"] and d["len"] == 4
    assert d["items"] == [["a", "1"], ["a", "2"], ["b", "3"], ["c", ""], ["d", "é"]]
    assert d["list"] == d["items"]
    assert d["missing"] == "KeyError"
    assert d["after_add"] == "5" and d["after_set"] == ["one", 1]
    assert d["after_del"] == [False, ["c", "d", "e", "a"]]
    assert d["list_append"] == "7" and d["repr"] == "Field('f', '7')"
    assert d["after_clear"] == [0, []]


def test_stringfield_and_field(srv):
    d = js(srv.request("/form/stringfield"))
    assert d["value"] == d["str"] == "héllo \udcff" and d["upper"] == "HÉLLO \udcff"
    assert d["file"] == b"h\xc3\xa9llo \xff".hex()   # the field's bytes, as received
    assert d["filename"] is None and d["type"] == "text/plain"
    assert d["repr"] == "Field('greeting', 'héllo \\udcff')"
    assert d["field"] == ["up", "a.csv", "text/csv", {"charset": "x"}, "form-data", "data",
                          "Field('up', b'data')"]
    assert d["empty_field_value"] is None


def test_apply_fs_data(srv):
    parts = [part("a", "A"), part("b", "B1"), part("b", "B2"), part("zz", "Z"),
             part("up", b"file", filename="u.txt")]
    d = js(post_mp(srv, "/form/apply", parts))
    assert d["plain"] == ["plain", "A", ["B1", "B2"]]
    assert d["req"] == ["A", "/form/apply"]
    assert d["kw"] == ["kw", "A", ["b", "req", "up", "zz"]]
    assert d["kwonly"] == ["kwonly", "A", ["B1", "B2"]]
    assert d["class"] == ["class", "A", True]
    assert d["method"] == ["method", ["B1", "B2"]]
    assert d["callable"] == ["call", "A"]
    assert d["builtin"] == []
    assert d["file"] == ["Field", "u.txt"]


def test_parse_header(srv):
    cases = [
        (b'form-data; name="a"; filename="x;y.txt"',
         ["form-data", {"name": "a", "filename": "x;y.txt"}]),
        (b'Text/HTML; Charset="UTF-8"', ["text/html", {"charset": "UTF-8"}]),
        (b'attachment; filename="a \\"q\\" b"; size=3',
         ["attachment", {"filename": 'a "q" b', "size": "3"}]),
        (b'form-data; name="\xc3\xa9\xff"', ["form-data", {"name": "é\udcff"}]),
        (b"plain", ["plain", {}]),
        (b"x; novalue; =; k = v ", ["x", {"": "", "k": "v"}]),
    ]
    for line, want in cases:
        d = js(srv.request("/form/parse_header", method="POST", body=line))
        assert [d["key"], d["options"]] == want, line
        assert d["same"] is True


def test_redirect_temporary_and_permanent(srv):
    r = srv.request("/form/redirect", headers={"X-Location": "/new/place?a=1&b=\"2\""})
    assert r.status == 302
    assert r.headers["Location"] == "/new/place?a=1&b=\"2\""
    assert r.body == b'<p>The document has moved <a href="/new/place?a=1&amp;b=&quot;2&quot;">' \
                     b'here</a></p>\n'
    assert r.headers["Content-Type"].startswith("text/html")
    r = srv.request("/form/redirect", headers={"X-Location": "http://example.com/",
                                               "X-Permanent": "1", "X-Text": "gone"})
    assert (r.status, r.headers["Location"], r.body) == (301, "http://example.com/", b"gone")


def test_redirect_after_the_body_started_raises(srv):
    r = srv.request("/form/redirect_late")
    assert r.status == 200
    assert r.body.startswith(b"started;IOError: Cannot redirect after headers")
    assert js(srv.request("/form/redirect_type")) == "TypeError"


# ------------------------------------------------------------ size and threads

def upload_big(h, path, size, name="big.bin", timeout=600):
    """Stream a multipart upload of `size` random bytes (1 MiB sends):
    (status, response body, sha256 of the file)."""
    b = BOUNDARY.encode()
    head = (b"--" + b + b"\r\nContent-Disposition: form-data; name=\"file\"; filename=\"" +
            name.encode() + b"\"\r\nContent-Type: application/octet-stream\r\n\r\n")
    tail = b"\r\n--" + b + b"\r\nContent-Disposition: form-data; name=\"after\"\r\n\r\nok\r\n--" \
        + b + b"--\r\n"
    h256 = hashlib.sha256()
    block = os.urandom(MIB)

    def pieces():
        yield head
        left, i = size, 0
        while left:
            # a different MiB each time: the block with its index mixed in
            piece = block[:min(left, MIB)]
            piece = i.to_bytes(4, "big") + piece[4:] if len(piece) > 4 else piece
            h256.update(piece)
            left -= len(piece)
            i += 1
            yield piece
        yield tail
    status, out = raw_post(h, path, ["Content-Type: " + mp_headers()["Content-Type"],
                                     "Content-Length: %d" % (len(head) + size + len(tail))],
                           pieces(), timeout=timeout)
    return status, out, h256.hexdigest()


@pytest.mark.parametrize("mpm", MPM_PARAMS)
def test_100_megabyte_upload_in_bounded_memory(mpm):
    """The child's peak RSS grows by less than 10 MB while FieldStorage
    takes a 100 MB upload (measured inside the handler, VmHWM)."""
    h = start(mpm)
    try:
        # warm up: the modules are imported and one small upload parsed
        status, out, _ = upload_big(h, "/big/upload_memory", 100000)
        assert status == 200, out
        size = 100 * MIB
        status, out, digest = upload_big(h, "/big/upload_memory", size)
        assert status == 200, out
        d = json.loads(out)
        f, after = d["fields"]
        assert (f["size"], f["sha256"], f["filename"]) == (size, digest, "big.bin")
        assert after["value"] == "ok"
        growth = d["hwm_after"] - d["hwm_before"]
        print("\n%s: peak RSS %.1f MB -> %.1f MB (+%.2f MB), RSS after %.1f MB" % (
            mpm, d["hwm_before"] / 1e6, d["hwm_after"] / 1e6, growth / 1e6, d["rss_after"] / 1e6))
        assert growth < 10 * 1e6, d
    finally:
        h.cleanup()


@pytest.mark.skipif("worker" not in MPMS, reason="worker MPM not tested")
def test_concurrent_uploads_on_worker():
    h = start("worker", settings=one_child("worker", threads=8))
    try:
        results = {}

        def one(i):
            results[i] = upload_big(h, "/form/fields", 3 * MIB + i, name="f%d" % i)

        threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for i, (status, out, digest) in sorted(results.items()):
            assert status == 200, out
            d = json.loads(out)
            assert (d[0]["filename"], d[0]["size"], d[0]["sha256"]) == \
                ("f%d" % i, 3 * MIB + i, digest)
            assert d[1]["value"] == "ok"
    finally:
        h.cleanup()
