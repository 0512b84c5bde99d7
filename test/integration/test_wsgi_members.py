"""req.build_wsgi_env() and req.wsgi_start_response() running WSGI
applications as mod_python 3.5's mod_python.wsgi runs them (one checked by
wsgiref.validate), and the request's small members of 3.5 (_bytes_queued,
_content_type_set, the capsules, chunked, status, double_reverse, server
attributes, type names): event, prefork and worker."""
import http.client
import json
import time

import pytest

from harness import Httpd, one_child, wait_for


@pytest.fixture(scope="module", params=["event", "prefork", "worker"])
def srv(request):
    h = Httpd(request.param)
    try:
        h.config(h.install_app("wsgi_members"), mpm_settings=one_child(request.param))
        h.start()
        yield h
    finally:
        h.cleanup()


def js(r):
    assert r.status == 200, (r.status, r.body[:2000])
    return json.loads(r.body)


def environ(srv, path, **kw):
    return js(srv.request(path + ("&" if "?" in path else "?") + "environ", **kw))


def split(env):
    return env["SCRIPT_NAME"], env["PATH_INFO"]


def raw(srv, path, host=None):
    """(status, reason, headers, body) with the reason phrase."""
    c = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
    try:
        c.request("GET", path, headers={"Host": host} if host else {})
        r = c.getresponse()
        return r.status, r.reason, r.headers, r.read()
    finally:
        c.close()


# ------------------------------------------------------------ build_wsgi_env

def test_environ_has_the_cgi_and_wsgi_variables(srv):
    env = environ(srv, "/wsgi/a/b?x=1")
    assert split(env) == ("/wsgi", "/a/b")
    assert env["QUERY_STRING"] == "x=1&environ" and env["REQUEST_METHOD"] == "GET"
    assert env["REQUEST_URI"] == "/wsgi/a/b?x=1&environ"
    assert env["SERVER_PROTOCOL"] == "HTTP/1.1" and env["GATEWAY_INTERFACE"] == "CGI/1.1"
    assert env["SERVER_PORT"] == str(srv.port) and env["REMOTE_ADDR"] == "127.0.0.1"
    assert env["HTTP_HOST"] == "127.0.0.1:%d" % srv.port and env["SERVER_NAME"]
    assert env["wsgi.version"] == [1, 0] and env["wsgi.run_once"] is False
    assert env["wsgi.url_scheme"] == "http" and env["REQUEST_SCHEME"] == "http"
    assert env["wsgi.multithread"] is (srv.mpm != "prefork"), env
    assert env["wsgi.multiprocess"] is True
    # wsgi.input is the request object, wsgi.errors sys.stderr (3.5's)
    assert env["input_type"] == "mp_request" and env["errors_is_stderr"] is True
    assert env["str_values"] is True
    # 3.5 left the split in the request too
    assert env["req.path_info"] == "/a/b"
    assert env["req.subprocess_env"] == {"SCRIPT_NAME": "/wsgi", "PATH_INFO": "/a/b",
                                         "REQUEST_URI": "/wsgi/a/b?x=1&environ"}


def test_location_is_the_script_name(srv):
    assert split(environ(srv, "/wsgi")) == ("/wsgi", "")
    assert split(environ(srv, "/wsgi/")) == ("/wsgi", "/")
    # <Location /slash/>: the trailing slash is not part of SCRIPT_NAME
    env = environ(srv, "/slash/x/")
    assert split(env) == ("/slash", "/x/")
    # REQUEST_URI as ap_add_cgi_vars() has it, CGIVar too
    assert env["REQUEST_URI"] == "/slash/x/"


def test_base_uri_option_wins_over_location(srv):
    assert split(environ(srv, "/based/sub/x")) == ("/based/sub", "/x")
    assert split(environ(srv, "/based/sub")) == ("/based/sub", "")
    # an empty base_uri is the root
    assert split(environ(srv, "/rootbase/q")) == ("", "/rootbase/q")


def test_uri_outside_base_uri_gives_none(srv):
    # None: mod_python.wsgi declines (the test handler answers 404)
    assert srv.request("/based/other?environ").status == 404
    # the base is a whole path segment: /based/subway is not under /based/sub
    assert srv.request("/based/subway?environ").status == 404


def test_base_uri_ending_in_slash_is_refused(srv):
    r = srv.request("/badbase/x")
    assert r.status == 200
    assert r.body == (b"ValueError: PythonOption 'mod_python.wsgi.base_uri' "
                      b"('/badbase/') must not end with '/'")


def test_without_location_the_whole_uri_is_path_info(srv):
    # <Directory> and <LocationMatch> give no base: 3.5's rule
    assert split(environ(srv, "/root/x/y")) == ("", "/root/x/y")
    assert split(environ(srv, "/rx/y")) == ("", "/rx/y")


def test_other_phase_uses_its_own_location(srv):
    env = environ(srv, "/fixup/z")
    assert env["fixup_split"] == ["/fixup", "/z"] and split(env) == ("/fixup", "/z")


def test_https_virtual_host_at_root(srv):
    env = environ(srv, "/x/y", host="secure.test")
    assert env["wsgi.url_scheme"] == "https" and env["REQUEST_SCHEME"] == "https"
    # <Location />: SCRIPT_NAME is "", never "/"
    assert split(env) == ("", "/x/y")


def test_text_is_latin1_native_strings(srv):
    env = environ(srv, "/wsgi/caf%C3%A9", headers={"X-Name": "café"})
    # PEP 3333: each byte one code point
    assert env["PATH_INFO"] == "/caf\u00c3\u00a9"
    assert env["PATH_INFO"].encode("latin-1").decode("utf-8") == "/café"
    assert env["req.path_info"] == "/café"   # the request object's rule: UTF-8
    assert env["REQUEST_URI"] == "/wsgi/caf%C3%A9?environ"
    assert env["HTTP_X_NAME"] == "café"      # the byte 0xE9, as sent


def test_authorization_and_body_variables(srv):
    env = environ(srv, "/wsgi/p", method="POST", body=b"a=1",
                  headers={"Authorization": "Basic eDp5",
                           "Content-Type": "application/x-www-form-urlencoded"})
    assert env["HTTP_AUTHORIZATION"] == "Basic eDp5"
    assert env["CONTENT_TYPE"] == "application/x-www-form-urlencoded"
    assert env["CONTENT_LENGTH"] == "3" and env["REQUEST_METHOD"] == "POST"
    assert "HTTP_CONTENT_TYPE" not in env and "HTTP_CONTENT_LENGTH" not in env


def test_validator_accepts_environ_and_start_response(srv):
    env = js(srv.request("/wsgi/v?validated_env"))
    assert env["wsgi.input"] == "InputWrapper" and env["input_type"] == "mp_request"
    assert env["wsgi.errors"] == "ErrorWrapper" and env["errors_is_stderr"] is True
    r = srv.request("/wsgi?validated_hello")
    assert r.status == 200 and r.body == b"write is req.write: 0; Hello World!"
    assert "AssertionError" not in srv.log() and "WSGIWarning" not in srv.log()


@pytest.mark.parametrize("app", ["echo", "echo_plain"])
def test_application_reads_body(srv, app):
    # under the validator, and reading the request object itself (iter(req))
    body = b"first line\nxyz rest\nline 3\nline 4\n"
    r = srv.request("/wsgi/e?" + app, method="POST", body=body,
                    headers={"Content-Type": "text/plain"})
    assert r.status == 201 and r.headers["X-Lines"] == "3", r
    assert json.loads(r.body) == {"first": "first line\n", "head": "xyz",
                                  "lines": [" rest\n", "line 3\n", "line 4\n"],
                                  "rest": 0, "type": "text/plain", "length": len(body)}
    # wsgi.errors is the error log; the response's close() was called
    for line in ("wsgi test: %d bytes from POST" % len(body), "wsgi test: writelines",
                 "wsgi test: body closed"):
        assert wait_for(lambda: line in srv.log()), srv.log()[-2000:]
    assert "AssertionError" not in srv.log()


def test_concurrent_applications_get_their_own_environ(srv):
    from concurrent.futures import ThreadPoolExecutor

    def one(i):
        env = environ(srv, "/wsgi/n%d" % i, headers={"X-N": str(i)})
        return split(env) == ("/wsgi", "/n%d" % i) and env["HTTP_X_N"] == str(i)

    with ThreadPoolExecutor(8) as pool:
        assert all(pool.map(one, range(64)))


def test_build_wsgi_env_after_the_request_raises(srv):
    assert srv.request("/app/x?keep").body == b"kept"
    d = js(srv.request("/app/x?after"))
    assert d["calls"] == ["RuntimeError", "RuntimeError"]


# ------------------------------------------------------------ wsgi_start_response

def test_start_response_returns_req_write(srv):
    r = srv.request("/wsgi?hello")
    assert r.status == 200 and r.body == b"write is req.write: 1; Hello World!"
    assert r.headers["Content-Type"] == "text/plain" and r.headers["X-Hello"] == "yes"
    assert r.headers.get_all("X-Multi") == ["a", "b"]


def test_start_response_sets_the_request(srv):
    status, reason, headers, body = raw(srv, "/wsgi?members")
    assert (status, reason, body) == (202, "Accepted Now", b"ok")
    assert headers["Content-Type"] == "text/x-test" and headers["Content-Length"] == "2"
    assert wait_for(lambda: "wsgi members: " in srv.log())
    line = [x for x in srv.log().splitlines() if "wsgi members: " in x][-1]
    facts = json.loads(line.split("wsgi members: ", 1)[1])
    assert facts == {"status": 202, "status_line": "202 Accepted Now",
                     "content_type": "text/x-test", "_content_type_set": 1,
                     "clength": 2, "Content-Length": "2", "X-A": "1",
                     "Content-Type": None}, facts


def test_status_reason_and_latin1_headers_reach_the_client(srv):
    status, reason, headers, body = raw(srv, "/wsgi?status")
    assert (status, reason, body) == (299, "Custom Reason", b"custom")
    status, reason, headers, body = raw(srv, "/wsgi?latin1")
    assert status == 200 and headers["X-Latin"] == "caf\u00e9"   # the byte 0xE9
    assert body == "café".encode()


def test_second_call_without_exc_info_raises(srv):
    r = srv.request("/wsgi?twice")
    assert r.status == 200
    assert r.body == b"RuntimeError: wsgi_start_response() called again without exc_info"


def test_exc_info_before_the_body_replaces_the_response(srv):
    status, reason, headers, body = raw(srv, "/wsgi?replace")
    assert (status, reason, body) == (503, "Try Later", b"replaced")
    assert headers["X-Second"] == "2" and "X-First" not in headers
    assert headers["Content-Type"] == "text/plain"


def test_exc_info_after_the_body_is_raised_again(srv):
    r = srv.request("/wsgi?reraise")
    assert r.status == 200 and r.body == b"begun;reraised same: 1"


def test_bad_status_and_headers_are_refused(srv):
    assert js(srv.request("/wsgi?bad")) == [
        "ValueError",          # "OK"
        "ValueError",          # "2000 Big"
        "TypeError",           # 200
        "ValueError",          # "200\nX: y"
        "ValueError",          # header name with a space
        "ValueError",          # CR LF in a value
        "UnicodeEncodeError",  # not Latin-1
        "ValueError",          # Content-Length "12a"
        "TypeError",           # ("X-A",)
        "TypeError",           # bytes name
        "TypeError",           # headers 5
        "TypeError",           # exc_info not a sys.exc_info() tuple
    ]


# ------------------------------------------------------------ request members

def test_bytes_queued_and_content_type_set(srv):
    r = srv.request("/app/x?counts")
    assert r.status == 200
    body, _, tail = r.body.rpartition(b"\n")
    assert body == b"abcline one\nline two\n"
    assert json.loads(tail) == {"start": [0, 0, None], "write": 3, "sendfile": [18, 21],
                                "type_set": 1}
    # each request starts from zero, on a new or a reused object
    for _ in range(3):
        assert js(srv.request("/app/x?fresh")) == [0, 0]


def test_kept_request_object_keeps_its_counts(srv):
    assert srv.request("/app/x?keep").body == b"kept"
    d = js(srv.request("/app/x?after"))
    assert d["counts"] == [4, 1]
    assert d["_request_rec"] == "RuntimeError" and d["chunked"] == "RuntimeError"


def test_capsules_hold_the_structures(srv):
    d = js(srv.request("/app/x?capsules"))
    assert d == {"types": ["PyCapsule"] * 4, "valid": [1, 1, 1, 1], "r.connection": True,
                 "r.server": True, "c.base_server": True, "fresh": True}


def test_chunked_is_writable(srv):
    r = srv.request("/app/x?chunked=1")
    assert r.body == b"0 1" and r.headers["Transfer-Encoding"] == "chunked"
    r = srv.request("/app/x?chunked=")
    assert r.body == b"0 0" and r.headers["Content-Length"] == "3"
    assert "Transfer-Encoding" not in r.headers


@pytest.mark.parametrize("value", [999, 0, -1, 2 ** 31 - 1, -2 ** 31])
def test_status_takes_any_int(srv, value):
    r = srv.request("/app/x?status=%d" % value)
    assert r.status == 500 and r.body == b"status %d" % value
    assert srv.request("/app/x?fresh").status == 200
    assert "exit signal" not in srv.log()


def test_status_accepted_values_reach_the_client(srv):
    r = srv.request("/app/x?status=451")
    assert r.status == 451 and r.body == b"status 451"


def test_refused_assignments(srv):
    assert js(srv.request("/app/x?refused")) == [
        "ValueError", "TypeError", "TypeError", "ValueError",
        "AttributeError", "AttributeError", "AttributeError"]


def test_double_reverse(srv):
    d = js(srv.request("/app/x?double_reverse"))
    assert d["before"] == 0 and d["after"] in (1, -1), d
    assert (d["after"] == 1) == (d["host"] is not None), d


def test_server_takes_attributes_for_the_request(srv):
    for _ in range(2):   # not kept for the next request (3.5: a new object)
        d = js(srv.request("/app/x?server_attrs"))
        assert d == {"before": False, "counter": 2, "same": True,
                     "dict": ["counter", "me"], "main": False}


def test_cycles_through_server_and_connection_are_freed(srv):
    assert srv.request("/app/x?cycle").body == b"same base_server: 1"
    assert wait_for(lambda: js(srv.request("/app/x?collected")) == 0)


def test_type_names_of_3_5(srv):
    assert js(srv.request("/app/x?types")) == ["mp_request", "mp_conn", "mp_server",
                                               "mp_server"]


def test_eos_sent(srv):
    assert srv.request("/app/x?eos").body == b"eos_sent 0"
    assert wait_for(lambda: "members: eos_sent in the log phase: 1" in srv.log()), \
        srv.log()[-2000:]
