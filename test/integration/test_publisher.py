"""mod_python.publisher as 3.5 applications use it, against a real httpd
(event and prefork): URL to file and object (index defaults, extensions),
traversal and its refusals (names with "_", modules, classes, built-ins),
__auth__ / __access__ / __auth_realm__ on modules, objects and inside
functions, form fields bound to arguments (file uploads too), what is
written for each kind of result and with which content type, HEAD and 405,
and pages reloaded when they or a module they import are edited.  The
published files are in apps/publisher/htdocs/."""
import base64
import hashlib
import json
import os
import time

import pytest

from harness import Httpd, one_child, wait_for


@pytest.fixture(scope="module", params=["event", "prefork"])
def srv(request):
    h = Httpd(request.param)
    try:
        h.config(h.install_app("publisher"), mpm_settings=one_child(request.param))
        h.start()
        yield h
    finally:
        h.cleanup()


def ok(r, body=None):
    assert r.status == 200, (r.status, r.body[:2000])
    if body is not None:
        assert r.body == body, r.body
    return r


def js(r):
    return json.loads(ok(r).body)


def basic(user, pw):
    return {"Authorization": "Basic " + base64.b64encode(
        ("%s:%s" % (user, pw)).encode()).decode()}


def challenge(r):
    assert r.status == 401, (r.status, r.body[:500])
    return r.headers["WWW-Authenticate"]


# ------------------------------------------------------- URL to object

@pytest.mark.parametrize("url, body", [
    ("/pub/hello.py/say", b"say hi"),
    ("/pub/hello/say", b"say hi"),                 # the extension may be left out
    ("/pub/hello.py/say/", b"say hi"),             # one trailing slash
    ("/pub/hello.py", b"hello index"),             # no object: index()
    ("/pub/hello.py/", b"hello index"),
    ("/pub/hello", b"hello index"),
    ("/pub/hello/", b"hello index"),
    ("/pub/", b"pub index"),                       # a directory: index.py
    ("/pub/index.py", b"pub index"),
    ("/pub/other", b"index other x=none"),         # no other.py: index.py's other()
    ("/pub/other?x=5", b"index other x=5"),
    ("/pub/section/page", b"index section page"),  # ... and its objects
    ("/pub/hello.py/obj/method", b"page method n=0"),
    ("/pub/hello.py/obj.method", b"page method n=0"),  # dots separate names too
    ("/pub/hello.py/obj", b"page called"),         # an instance with __call__
    ("/pub/hello.py/obj/title", b"a title"),
    ("/pub/hello.py/tree/page/method?n=3", b"page method n=3"),
    ("/pub/hello.py/tree/items", b"['a', 'b']"),
    ("/pub/hello.py/version", b"1.0"),
])
def test_url_names_file_and_object(srv, url, body):
    ok(srv.request(url), body)


@pytest.mark.parametrize("url", [
    "/pub/hello.py/missing",
    "/pub/hello.py/obj/missing",
    "/pub/nosuchfile",                 # not in index.py either
    "/pub/nosuchfile/index",
    "/pub/hello.py/obj..method",       # an empty name
    "/empty/",                         # no index.py
    "/empty/page",
])
def test_missing_is_404(srv, url):
    assert srv.request(url).status == 404


@pytest.mark.parametrize("url, why", [
    ("/pub/hello.py/_private", "starts with an underscore"),
    ("/pub/hello.py/__doc__", "starts with an underscore"),
    ("/pub/hello.py/obj/_secret", "starts with an underscore"),
    ("/pub/hello.py/obj/__class__", "starts with an underscore"),
    ("/pub/hello.py/os", "cannot be published"),            # a module
    ("/pub/hello.py/os/getcwd", "cannot be traversed"),     # ... nor traversed
    ("/pub/hello.py/json/dumps", "cannot be traversed"),
    ("/pub/hello.py/apache", "cannot be published"),
    ("/pub/hello.py/Klass", "cannot be published"),         # a class
    ("/pub/hello.py/Klass/method", "cannot be traversed"),
    ("/pub/hello.py/WithMeta", "cannot be published"),      # one of another metaclass
    ("/pub/hello.py/obj/Inner", "cannot be published"),
    ("/pub/hello.py/getcwd", "cannot be published"),        # a built-in function
    ("/pub/hello.py/tree/items/append", "cannot be published"),
    ("/pub/hello.py/func_with_attr/attr", "cannot be traversed"),  # a function's
    ("/pub/hello.py/obj/method/im_func", "cannot be traversed"),   # a method's
])
def test_forbidden_objects_are_403_and_logged(srv, url, why):
    r = srv.request(url)
    assert r.status == 403, (r.status, r.body[:300])
    assert wait_for(lambda: "in %s: " % url in srv.log()), srv.log()[-2000:]
    line = [x for x in srv.log().splitlines() if "in %s: " % url in x][-1]
    assert "mod_python.publisher: cannot traverse" in line and why in line, line


def test_index_module_names_come_after_files(srv):
    # /pub/hello is hello.py even though index.py could have a "hello"
    ok(srv.request("/pub/hello"), b"hello index")
    ok(srv.request("/pub/index/other"), b"index other x=none")


def test_extensions_of_addhandler_are_stripped(srv):
    ok(srv.request("/ext/page.xyz"), b"ext index of page.py")
    ok(srv.request("/ext/page.py"), b"ext index of page.py")
    ok(srv.request("/ext/page.xyz/show"), b"ext show None")


def test_extension_of_the_handler_is_stripped(srv):
    # PythonHandler mod_python.publisher | .pub: page.pub is page.py
    ok(srv.request("/extn/page.pub"), b"ext index of page.py")
    r = ok(srv.request("/extn/page.pub/show"))
    assert r.body.startswith(b"ext show ."), r.body
    # the handler is for .pub only: anything else is not published
    r = srv.request("/extn/page.py/show")
    assert r.status != 200 or not r.body.startswith(b"ext show"), r.body


# ------------------------------------------------------------- methods

def test_head_sends_headers_only(srv):
    r = srv.request("/pub/hello.py/say", method="HEAD")
    assert r.status == 200 and r.body == b""
    assert r.headers["Content-Type"] == "text/plain"
    assert r.headers["Content-Length"] == "6"


def test_other_methods_are_405(srv):
    for method in ("PUT", "DELETE", "OPTIONS"):
        r = srv.request("/pub/hello.py/say", method=method, body=b"x")
        assert r.status == 405, (method, r.status)
        allow = {m.strip() for m in r.headers["Allow"].split(",")}
        assert {"GET", "HEAD", "POST"} <= allow, allow
        assert "PUT" not in allow and "DELETE" not in allow, allow


# ---------------------------------------------------- argument binding

def test_fields_bind_to_named_arguments(srv):
    d = js(srv.request("/pub/hello.py/echo?a=1&b=2&c=3&unknown=9"))
    assert d == {"a": "1", "b": "2", "c": "3"}
    assert js(srv.request("/pub/hello.py/echo?a=x")) == {"a": "x", "b": "B", "c": "C"}


def test_repeated_field_is_a_list(srv):
    assert js(srv.request("/pub/hello.py/echo?a=1&a=2"))["a"] == ["1", "2"]


def test_post_fields_bind_like_query_fields(srv):
    r = srv.request("/pub/hello.py/echo?b=q", method="POST", body=b"a=posted&c=%C3%A9",
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert js(r) == {"a": "posted", "b": "q", "c": "\u00e9"}


def test_blank_values_are_kept(srv):
    # 3.5's publisher parses with keep_blank_values=1
    assert js(srv.request("/pub/hello.py/echo?a=&b=")) == {"a": "", "b": "", "c": "C"}


def test_keyword_catch_all_gets_every_field(srv):
    d = js(srv.request("/pub/hello.py/kw?x=1&y=&x=2"))
    assert d == [["x", ["1", "2"]], ["y", ""]]


def test_function_without_req_argument(srv):
    ok(srv.request("/pub/hello.py/noreq?a=5"), b"noreq 5")
    ok(srv.request("/pub/hello.py/noreq"), b"noreq 1")
    ok(srv.request("/pub/hello.py/nothing_taken"), b"nothing taken")
    ok(srv.request("/pub/hello.py/nothing_taken?a=1"), b"nothing taken")
    assert js(srv.request("/pub/hello.py/kw")) == []


def test_positional_only_req_is_not_bound(srv):
    # apply_fs_data binds by keyword: a positional-only req is not given
    assert srv.request("/pub/hello.py/posonly").status == 500
    assert wait_for(lambda: "posonly() missing 1 required positional argument" in srv.log())


def test_missing_required_argument_is_500(srv):
    # as 3.5: the call raises TypeError
    r = srv.request("/pub/hello.py/needs")
    assert r.status == 500
    assert wait_for(lambda: "needs() missing 1 required positional argument" in srv.log())
    ok(srv.request("/pub/hello.py/needs?required=yes"), b"got yes")


def test_form_and_filename_seen_by_the_function(srv):
    d = js(srv.request("/pub/hello/form/?z=1&y=2"))
    assert d["form"] == ["y", "z"] and d["method"] == "GET"
    assert d["filename"] == srv.path("htdocs", "pub", "hello.py")
    assert d["path_info"] == "/form/"


def multipart(fields):
    boundary = "----mpPublisherBoundaryX81"
    out = b""
    for name, value, filename in fields:
        disp = 'form-data; name="%s"' % name
        if filename:
            disp += '; filename="%s"' % filename
        out += b"--%s\r\nContent-Disposition: %s\r\n" % (boundary.encode(), disp.encode())
        if filename:
            out += b"Content-Type: application/octet-stream\r\n"
        out += b"\r\n" + value + b"\r\n"
    out += b"--%s--\r\n" % boundary.encode()
    return out, {"Content-Type": "multipart/form-data; boundary=" + boundary}


@pytest.mark.parametrize("size", [0, 1000, 300000])
def test_file_upload_is_passed_as_a_field(srv, size):
    data = bytes((i * 7 + size) % 256 for i in range(size)).replace(b"\n", b"\r\n")
    body, headers = multipart([("note", "n\u00f6te".encode(), None),
                               ("file", data, "up load.bin")])
    d = js(srv.request("/pub/hello.py/upload", method="POST", body=body, headers=headers))
    assert d == {"filename": "up load.bin", "size": len(data),
                 "sha256": hashlib.sha256(data).hexdigest(),
                 "type": "application/octet-stream", "note": "n\u00f6te",
                 "same_as_form": True}


# ------------------------------------------------------- what is written

@pytest.mark.parametrize("url, ctype, body", [
    ("/pub/hello.py/say", "text/plain", b"say hi"),
    ("/pub/hello.py/html", "text/html", b"<html><body>page</body></HTML >\n"),
    ("/pub/hello.py/html_early", "text/plain", b"<html></html>" + b"x" * 120),
    ("/pub/hello.py/raw", "text/html", b"\x00\xffbytes</html>"),   # bytes as they are
    ("/pub/hello.py/number", "text/plain", b"42"),
    ("/pub/hello.py/listing", "text/plain", b"[1, 'two']"),
    ("/pub/hello.py/empty", "text/plain", b""),
    ("/pub/hello.py/typed", "application/json", b'{"typed": true}'),
    ("/pub/hello.py/latin", "text/plain; charset=iso-8859-1", b"caf\xe9"),
    ("/pub/hello.py/utf8", "text/plain", "caf\u00e9 \u2603".encode()),
    ("/pub/hello.py/twice?what=again", "text/plain", b"say again"),
])
def test_result_and_content_type(srv, url, ctype, body):
    r = ok(srv.request(url), body)
    assert r.headers["Content-Type"] == ctype
    assert r.headers["Content-Length"] == str(len(body))   # not flushed


def test_generator_is_published_as_its_str(srv):
    assert ok(srv.request("/pub/hello.py/generator")).body.startswith(b"<generator object ")


def test_status_set_by_the_function_is_kept(srv):
    r = srv.request("/pub/hello.py/status")
    assert r.status == 201 and r.body == b"created"


def test_none_writes_nothing_and_is_logged_with_debug(srv):
    ok(srv.request("/pub/hello.py/nothing"), b"")
    assert wait_for(lambda: "mod_python.publisher: nothing to publish." in srv.log())
    n = srv.log().count("nothing to publish")
    ok(srv.request("/pub/hello.py/wrote"), b"written by hand")
    time.sleep(0.2)
    assert srv.log().count("nothing to publish") == n


def test_exception_is_500_with_traceback(srv):
    r = srv.request("/pub/hello.py/boom")
    assert r.status == 500
    assert b"boom from a published function" in r.body   # PythonDebug On
    assert wait_for(lambda: "ValueError: boom from a published function" in srv.log())


# ------------------------------------------------------ module-level auth

def test_module_auth_challenges_with_its_realm(srv):
    assert challenge(srv.request("/pub/auth.py")) == 'Basic realm="Members Only"'
    assert challenge(srv.request("/pub/auth.py", headers=basic("joe", "wrong")))
    assert challenge(srv.request("/pub/auth.py", headers=basic("nobody", "secret")))
    ok(srv.request("/pub/auth.py", headers=basic("joe", "secret")), b"auth index")
    ok(srv.request("/pub/auth/index", headers=basic("ann", "pw:with:colons")), b"auth index")


def test_object_access_list_below_module_auth(srv):
    assert challenge(srv.request("/pub/auth.py/admin/page")) == 'Basic realm="Members Only"'
    assert srv.request("/pub/auth.py/admin/page",
                       headers=basic("ann", "pw:with:colons")).status == 403
    ok(srv.request("/pub/auth.py/admin/page", headers=basic("joe", "secret")), b"admin page")


def test_callable_auth_and_access(srv):
    assert challenge(srv.request("/pub/access.py")) == 'Basic realm="unknown"'
    assert challenge(srv.request("/pub/access.py", headers=basic("abc", "abc")))
    assert js(srv.request("/pub/access.py", headers=basic("abc", "cba"))) == {"user": None}
    assert srv.request("/pub/access.py", headers=basic("xyz", "zyx")).status == 403


def test_malformed_credentials_are_400(srv):
    for value in ("Basic " + base64.b64encode(b"no colon").decode(), "Basic %%%"):
        r = srv.request("/pub/auth.py", headers={"Authorization": value})
        assert r.status == 400, (value, r.status)


def test_other_scheme_is_challenged(srv):
    r = srv.request("/pub/auth.py", headers={"Authorization": "Bearer abc"})
    assert challenge(r) == 'Basic realm="Members Only"'


def test_objects_without_auth_need_no_credentials(srv):
    ok(srv.request("/pub/hello.py/say"), b"say hi")


# ------------------------------------------------ auth inside functions

def test_function_body_dict_and_realm(srv):
    assert challenge(srv.request("/pub/fauth.py/with_dict")) == 'Basic realm="Dict Realm"'
    assert challenge(srv.request("/pub/fauth.py/with_dict", headers=basic("joe", "x")))
    ok(srv.request("/pub/fauth.py/with_dict", headers=basic("joe", "secret")), b"with dict")


def test_function_body_def_with_defaults(srv):
    assert challenge(srv.request("/pub/fauth.py/with_def", headers=basic("joe", "secret")))
    ok(srv.request("/pub/fauth.py/with_def", headers=basic("bob", "builder")), b"with def")


def test_function_body_lambda_and_access_tuple(srv):
    ok(srv.request("/pub/fauth.py/with_lambda", headers=basic("ann", "lambda")),
       b"with lambda")
    assert challenge(srv.request("/pub/fauth.py/with_lambda", headers=basic("ann", "x")))
    assert srv.request("/pub/fauth.py/with_lambda",
                       headers=basic("bob", "lambda")).status == 403


def test_function_body_names_a_global(srv):
    ok(srv.request("/pub/fauth.py/with_global", headers=basic("joe", "secret")),
       b"with global")
    assert challenge(srv.request("/pub/fauth.py/with_global", headers=basic("joe", "no")))
    ok(srv.request("/pub/fauth.py/with_global_func", headers=basic("bob", "builder")),
       b"with global func")
    assert challenge(srv.request("/pub/fauth.py/with_global_func",
                                 headers=basic("joe", "secret")))


def test_function_body_false_constant_refuses_everyone(srv):
    assert challenge(srv.request("/pub/fauth.py/never", headers=basic("joe", "secret")))


def test_function_body_access_without_auth(srv):
    assert srv.request("/pub/fauth.py/access_only").status == 403
    ok(srv.request("/pub/fauth.py/access_only", headers=basic("joe", "any")), b"access only")
    assert srv.request("/pub/fauth.py/access_only", headers=basic("ann", "any")).status == 403


@pytest.mark.parametrize("name", ["unreadable", "closure"])
def test_function_body_auth_that_cannot_be_read_refuses(srv, name):
    # reading it would mean running the function: never published
    r = srv.request("/pub/fauth.py/" + name, headers=basic("joe", "secret"))
    assert r.status == 500 and b"should not be published" not in r.body
    assert wait_for(lambda: "__auth__ in %s" % name in srv.log())
    line = [x for x in srv.log().splitlines() if "__auth__ in %s" % name in x][-1]
    assert "cannot be read without running it" in line, line


def test_function_attribute_auth(srv):
    assert challenge(srv.request("/pub/fauth.py/attribute"))
    ok(srv.request("/pub/fauth.py/attribute", headers=basic("joe", "secret")), b"attribute")


def test_method_body_auth(srv):
    assert challenge(srv.request("/pub/fauth.py/box/method")) == 'Basic realm="Box"'
    ok(srv.request("/pub/fauth.py/box/method", headers=basic("ann", "box")), b"box method")


# ------------------------------------------------------------- reloading

PAGE = """\
import helper
COUNT = [0]

def index(req):
    COUNT[0] += 1
    return "page %s %s %d" % ({v!r}, helper.word(), COUNT[0])
"""


def write(srv, name, text):
    path = srv.path("htdocs", "live", name)
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def test_edited_page_and_helper_take_effect_on_next_request(srv):
    write(srv, "helper.py", "def word():\n    return 'alpha'\n")
    write(srv, "page.py", PAGE.format(v="v1"))
    ok(srv.request("/live/page"), b"page v1 alpha 1")
    ok(srv.request("/live/page.py"), b"page v1 alpha 2")     # the same module
    write(srv, "helper.py", "def word():\n    return 'beta'\n")  # only the helper
    ok(srv.request("/live/page"), b"page v1 beta 1")         # page reloaded with it
    write(srv, "page.py", PAGE.format(v="v2"))
    ok(srv.request("/live/page"), b"page v2 beta 1")
    ok(srv.request("/live/page/index"), b"page v2 beta 2")


def test_new_page_and_removed_page(srv):
    assert srv.request("/live/fresh").status == 404
    write(srv, "fresh.py", "def index(req):\n    return 'fresh'\n")
    ok(srv.request("/live/fresh"), b"fresh")
    os.unlink(srv.path("htdocs", "live", "fresh.py"))
    assert srv.request("/live/fresh").status == 404


def test_broken_edit_is_500_then_fixed(srv):
    write(srv, "broken.py", "def index(req):\n    return 'fine'\n")
    ok(srv.request("/live/broken"), b"fine")
    write(srv, "broken.py", "def index(req):\n    return 'oops'\n  bad indent\n")
    assert srv.request("/live/broken").status == 500
    write(srv, "broken.py", "def index(req):\n    return 'fixed'\n")
    ok(srv.request("/live/broken"), b"fixed")


def test_autoreload_off_keeps_the_first_load(srv):
    path = srv.path("htdocs", "frozen", "page.py")
    with open(path, "w") as f:
        f.write("def index(req):\n    return 'first'\n")
    ok(srv.request("/frozen/page"), b"first")
    with open(path + ".tmp", "w") as f:
        f.write("def index(req):\n    return 'second'\n")
    os.replace(path + ".tmp", path)
    ok(srv.request("/frozen/page"), b"first")
