"""mod_python.psp as 3.5 applications use it, against a real httpd (event
and prefork; worker for pages read while edited): the translator's output
for a table of templates (3.5's, byte for byte) and, when 3.5's _psp is
installed, for random templates beside it; pages through
`PythonHandler mod_python.psp`: code, expressions, comments, includes, the
indentation rules, forms, apply_data, redirect, error pages, the debug
view (page.psp_), errors; the compiled-page cache (reused, compiled again
after an edit of the page or of a file it includes) and the dbm cache; the
PSP class from a handler (string and file templates, vars, __str__,
display_code); a second interpreter; sessions when mod_python.Session is
there; the translator's fuzz target.  The pages are in apps/psp/."""
import concurrent.futures
import json
import os
import pwd
import random
import re
import shutil
import subprocess
import sys
import time

import pytest

from conftest import MPMS
from harness import ROOT, RUN_USER, Httpd, one_child, run_embedded_python, threaded

MPM_PARAMS = [m for m in ("event", "prefork") if m in MPMS]

# (template, the Python source mod_python 3.5's _psp.parsestring made of it)
TABLE = [
    ('', ''),
    ('hello', 'req.write("""hello""",0)\n'),
    ('line1\nline2\n', 'req.write("""line1\nline2\n""",0)\n'),
    ('quotes " and """ and \'\'\'',
     'req.write("""quotes \\" and \\"\\"\\" and \'\'\'""",0)\n'),
    ('crlf\r\ntext\r\n', 'req.write("""crlf\ntext\n""",0)\n'),
    ('<% x = 1 %>', 'req.write("""""",0); x = 1 ;req.write("""""",0)\n'),
    ('<%x=1%>after', 'req.write("""""",0);x=1;req.write("""after""",0)\n'),
    ('<%= x %>', 'req.write("""""",0); req.write(str( x ),0); req.write("""""",0)\n'),
    ('a<%= 1 +\n 2 %>b',
     'req.write("""a""",0); req.write(str( 1 +\n 2 ),0); req.write("""b""",0)\n'),
    ('<%-- a comment <% x %> --%>after', 'req.write("""after""",0)\n'),
    ('<%@ page whatever %>after', 'req.write("""after""",0)\n'),
    # the indentation rules: the last line's indentation continues; a
    # trailing ':' adds a tab; a block of less indentation ends it
    ('<%\nfor i in range(3):\n    %>\n<%= i %>\n<%\n%>end',
     'req.write("""""",0);\nfor i in range(3):\n        \treq.write("""\n""",0); '
     'req.write(str( i ),0); req.write("""\n""",0);\nreq.write("""end""",0)\n'),
    ('<%\nfor n in range(3):\n    # This indent will persist\n%>\n<p>repeated</p>\n<%\n'
     '# This line will cause the block to end\n%>\nonce',
     'req.write("""""",0);\nfor n in range(3):\n    # This indent will persist\n    '
     'req.write("""\n<p>repeated</p>\n""",0);\n# This line will cause the block to end\n'
     'req.write("""\nonce""",0)\n'),
    ('<%\nfor n in range(3):\n%>\n<p>repeated</p>\n<%\n%>\nonce',
     'req.write("""""",0);\nfor n in range(3):\n\treq.write("""\n<p>repeated</p>\n""",0);\n'
     'req.write("""\nonce""",0)\n'),
    ('<%\nif a:\n  if b:\n%>T<%\n  %>U<%\n%>V',
     'req.write("""""",0);\nif a:\n  if b:\n  \treq.write("""T""",0);\n    '
     'req.write("""U""",0);\nreq.write("""V""",0)\n'),
    ('x<%\nif 1:\n  %>A<%\nelse:\n  %>B<%\n%>C',
     'req.write("""x""",0);\nif 1:\n    \treq.write("""A""",0);\nelse:\n    \t'
     'req.write("""B""",0);\nreq.write("""C""",0)\n'),
    ('<%\nif a:\n\tb\n\t%>T<%\n%>',
     'req.write("""""",0);\nif a:\n\tb\n\t\treq.write("""T""",0);\nreq.write("""""",0)\n'),
    ('<% if a:\n%>T', 'req.write("""""",0); if a:\n\treq.write("""T""",0)\n'),
    ('<%if a:%>T', 'req.write("""""",0);if a:;\treq.write("""T""",0)\n'),
    ('<%\n  a\n\n%>T', 'req.write("""""",0);\n  a\n\nreq.write("""T""",0)\n'),
    ('<%\n  a\nb\n%>T', 'req.write("""""",0);\n  a\nb\nreq.write("""T""",0)\n'),
    ('<%\n  a:\n  \t \n%>T',
     'req.write("""""",0);\n  a:\n  \t \n  \t \treq.write("""T""",0)\n'),
    ('<%\r\nif a:\r\n  b\r\n  %>T',
     'req.write("""""",0);\nif a:\n  b\n    req.write("""T""",0)\n'),
    ('<%\n \r%>T<%\n \rx%>U',
     'req.write("""""",0);\n \n req.write("""T""",0);\n \nxreq.write("""U""",0)\n'),
    ('<%=b:%>x<%%>',
     'req.write("""""",0); req.write(str(b:),0); req.write("""x""",0);;\treq.write("""""",0)\n'),
    ('<%a:%>x<%%>', 'req.write("""""",0);a:;\treq.write("""x""",0);;req.write("""""",0)\n'),
    # unclosed tags end the source where they are
    ('%> alone and <% unclosed', 'req.write("""%> alone and """,0); unclosed'),
    ('<%= unclosed', 'req.write("""""",0); req.write(str( unclosed'),
    ('<%-- unclosed', 'req.write("""'),
    ('<%@ unclosed', 'req.write("""'),
    ('<%%><%=%>',
     'req.write("""""",0);;req.write("""""",0); req.write(str(),0); req.write("""""",0)\n'),
    ("caf\u00e9 <%= '\u00e9t\u00e9' %>",
     'req.write("""caf\u00e9 """,0); req.write(str( \'\u00e9t\u00e9\' ),0); '
     'req.write("""""",0)\n'),
]

# Pieces of random templates, for the comparison with 3.5 (no backslash,
# NUL or include: see test_text_is_written_exactly and the include tests).
PIECES = ['<%', '%>', '<%=', '<%--', '--%>', '<%@ x ', '<%-', '\n', '\r\n', '\r', ' ', '  ',
          '\t', ':', 'a', 'b:', '"', '#', '-', '%', '<', '>', '=', '\u00e9', "'''", '"""',
          'if x:', '    ', '\n    ', ' \r', ':\r']


def install(h):
    conf = h.install_app("psp")
    user = pwd.getpwnam(RUN_USER)
    os.chown(h.path("cache"), user.pw_uid, user.pw_gid)
    return conf


def start(mpm, settings=None):
    h = Httpd(mpm)
    try:
        h.config(install(h), mpm_settings=settings or one_child(mpm))
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


def ok(r):
    assert r.status == 200, (r.status, r.body[:3000])
    return r.text


def js(r):
    assert r.status == 200, (r.status, r.body[:3000])
    return json.loads(r.body)


def put(h, rel, text):
    """Write a page (bytes or str) under htdocs, as an editor would."""
    path = os.path.join(h.htdocs, rel)
    with open(path, "wb") as f:
        f.write(text.encode() if isinstance(text, str) else text)
    os.chmod(path, 0o644)
    return path


def replace(h, rel, text):
    """Write a page whole, by a rename (an editor saving it)."""
    path = os.path.join(h.htdocs, rel)
    put(h, rel + ".tmp", text)
    os.rename(path + ".tmp", path)


def parse_all(srv, templates):
    return js(srv.request("/api/parse", method="POST", body=json.dumps(templates).encode()))


# ------------------------------------------------------------ the translator

def test_translation_table_is_35s(srv):
    got = parse_all(srv, [t for t, _ in TABLE])
    for (template, want), (okay, source) in zip(TABLE, got):
        assert okay and source == want, template


def test_translation_matches_35_on_random_templates(srv):
    """Beside 3.5's own parser, when it is installed."""
    sys.path.append("/usr/lib/python3/dist-packages")
    try:
        from mod_python import _psp as psp35
    except ImportError:
        pytest.skip("mod_python 3.5's _psp is not installed")
    finally:
        sys.path.remove("/usr/lib/python3/dist-packages")
    rnd = random.Random(1234)
    templates = ["".join(rnd.choice(PIECES) for _ in range(rnd.randint(0, 24)))
                 for _ in range(3000)]
    # 3.5's scanner echoes comments to stdout: keep its fd 1 quiet
    saved = os.dup(1)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 1)
            want = [psp35.parsestring(t.encode()) for t in templates]
    finally:
        os.dup2(saved, 1)
        os.close(saved)
    got = parse_all(srv, templates)
    bad = [(t, w, g) for t, w, (okay, g) in zip(templates, want, got) if not okay or g != w]
    assert not bad, bad[:5]


def test_text_is_written_exactly(srv):
    """The deliberate difference: 3.5 left a backslash of the text as it
    was (so "\\n" in a page became a newline); here it is escaped, as NUL."""
    (okay, source), = parse_all(srv, ["a\\nb\\\"\x00"])
    assert okay and source == 'req.write("""a\\\\nb\\\\\\"\\x00""",0)\n'
    assert ok(srv.request("/psp/backslash.psp")) == 'C:\\new\\table "q" \\\\ \\\n'


def test_parsestring_takes_str_and_bytes_and_refuses_others(srv):
    got = parse_all(srv, ["x"])
    assert got == [[True, 'req.write("""x""",0)\n']]
    # bytes: through the PSP class (do_string runs one)
    assert ok(srv.request("/api/string")).endswith("bytes 6|")


def test_include_in_a_string_template_is_an_error_not_a_crash(srv):
    (okay, err), = parse_all(srv, ['a<%@ include file="no/such/file" %>b'])
    assert not okay and err.startswith("FileNotFoundError") and "no/such/file" in err


def test_parse_a_file_lists_its_includes(srv):
    d = js(srv.request("/api/parsefile?include.psp"))
    assert d["same"]
    parts = os.path.join(srv.htdocs, "psp", "parts")
    assert d["includes"] == [os.path.join(parts, n)
                             for n in ("header.inc", "nested.inc", "footer.inc")]
    assert 'title = "T1"' in d["source"] and "nested" in d["source"]


def test_includes_nested_too_deep_are_an_error(srv):
    d = js(srv.request("/api/deep"))
    assert "nested more than 16 deep" in d["error"] and "self.psp" in d["error"]


# ------------------------------------------------------------ pages

def test_page_code_expressions_comments(srv):
    assert ok(srv.request("/psp/hello.psp")) == (
        "<html>\n\n\n<p>Hello, /psp/hello.psp!</p>\n<p>year ok: True</p>\n</html>\n")


def test_indentation_rules_in_a_page(srv):
    base = "<ul>\n\n<li>0</li>\n\n<li>1</li>\n\n<li>2</li>\n\n</ul>\n\n[0]\n[1]\n%s\ndone\n"
    assert ok(srv.request("/psp/loop.psp")) == base % "no"
    assert ok(srv.request("/psp/loop.psp?y")) == base % "yes"


def test_includes_relative_to_the_page_directory(srv):
    # nested.inc is named "parts/nested.inc" in parts/header.inc: names are
    # under the page's directory, whoever includes them (as in 3.5)
    assert ok(srv.request("/psp/include.psp")) == "header(nested)\n\nbody T1\nfooter t1\n"


def test_an_include_ending_inside_a_tag_goes_on_in_the_page(srv):
    # parts/opens.inc is "X<%= 1 +": its expression ends in the page (3.5
    # ended the translation there, and the page did not compile)
    assert ok(srv.request("/psp/cont.psp")) == "aX3b\n"


def test_absolute_include(srv):
    # 3.5 put the page's directory in front of it (and crashed)
    inc = os.path.join(srv.htdocs, "psp", "parts", "nested.inc")
    put(srv, "psp/absinc.psp", '[<%%@ include file="%s" %%>]' % inc)
    assert ok(srv.request("/psp/absinc.psp")) == "[nested]"


def test_missing_include_is_an_error_naming_the_file(srv):
    r = srv.request("/psp/badinclude.psp")
    assert r.status == 500
    assert "FileNotFoundError" in r.text and "parts/missing.inc" in r.text


def test_form_from_query_and_post(srv):
    assert ok(srv.request("/psp/form.psp?name=ann&v=1&v=2&blank=")) == "name=ann n=2 blank=True\n"
    r = srv.request("/psp/form.psp", method="POST", body=b"name=bob&v=3",
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert ok(r) == "name=bob n=1 blank=False\n"
    assert ok(srv.request("/psp/form.psp")) == "name=nobody n=0 blank=False\n"


def test_apply_data(srv):
    assert ok(srv.request("/psp/apply.psp?a=2&b=40&c=ignored")) == "sum=42\n"


def test_error_page_gets_the_exception(srv):
    assert ok(srv.request("/psp/fails.psp?ok")) == "fine\n"
    assert ok(srv.request("/psp/fails.psp")) == "error page: KeyError 'missing-thing'\n"
    # a page named from the document root
    assert ok(srv.request("/psp/abserr.psp")) == (
        "error page: ZeroDivisionError division by zero\n")


def test_redirect(srv):
    r = srv.request("/psp/redirect.psp")
    assert r.status == 302 and r.headers["Location"] == "/psp/hello.psp"
    assert "not shown" not in r.text
    r = srv.request("/psp/redirect.psp?perm")
    assert r.status == 301 and r.headers["Location"] == "/psp/hello.psp"


def test_errors_in_pages_are_500_with_the_traceback_under_debug(srv):
    r = srv.request("/psp/syntax.psp")
    assert r.status == 500 and "SyntaxError" in r.text
    r = srv.request("/psp/raises.psp")
    assert r.status == 500 and "from-the-page" in r.text and "raises.psp" in r.text
    assert srv.request("/psp/no-such-page.psp").status == 404


def test_debug_view_only_with_python_debug(srv):
    text = ok(srv.request("/psp/hello.psp_"))
    assert text.startswith("<table>") and "PSP-produced Python Code:" in text
    assert os.path.join(srv.htdocs, "psp", "hello.psp") in text
    # the generated code, escaped, beside the page's lines, numbered
    assert "req.write(str(&nbsp;greeting&nbsp;),0)" in text
    assert "&lt;p&gt;&lt;%=&nbsp;greeting&nbsp;%&gt;" in text
    assert "<td><tt>7.&nbsp;</tt></td>" in text
    assert srv.request("/nodebug/hello.psp_").status == 404
    assert "Hello, /nodebug/hello.psp!" in ok(srv.request("/nodebug/hello.psp"))


def test_page_globals(srv):
    assert ok(srv.request("/psp/names.psp")) == (
        "req=True psp=PSPInterface form=True apache=0 util=mod_python.util os=/\n")


def test_import_module_finds_modules_beside_the_page_and_reloads_them(srv):
    page = os.path.join(srv.htdocs, "psp", "imports.psp")
    assert ok(srv.request("/psp/imports.psp")) == "word=helper-v1 file=%s\n" % page
    put(srv, "psp/helper.py", 'WORD = "helper-v2, edited"\n')
    try:
        assert ok(srv.request("/psp/imports.psp")) == "word=helper-v2, edited file=%s\n" % page
    finally:
        put(srv, "psp/helper.py", 'WORD = "helper-v1"\n')


def test_utf8_pages_and_others_refused(srv):
    r = srv.request("/psp/utf8.psp")
    assert r.body == "caf\u00e9 \u00e9t\u00e9\n".encode()
    r = srv.request("/psp/latin1.psp")
    assert r.status == 500 and "UnicodeDecodeError" in r.text


def test_flush(srv):
    assert ok(srv.request("/psp/flush.psp")) == "chunk0 chunk1 chunk2 \n"


# ------------------------------------------------------------ the caches

def test_compiled_once_then_again_after_an_edit(srv):
    """One child: the cache entry's hits count the requests it served."""
    hits = "<%= _file_cache[__file__].hits %>"
    put(srv, "psp/parts/edit.inc", "inc-v1")
    put(srv, "psp/edit.psp", 'v1 <%@ include file="parts/edit.inc" %> ' + hits)
    assert [ok(srv.request("/psp/edit.psp")) for _ in range(3)] == [
        "v1 inc-v1 0", "v1 inc-v1 1", "v1 inc-v1 2"]
    put(srv, "psp/edit.psp", 'v2, longer <%@ include file="parts/edit.inc" %> ' + hits)
    assert [ok(srv.request("/psp/edit.psp")) for _ in range(2)] == [
        "v2, longer inc-v1 0", "v2, longer inc-v1 1"]
    # an included file edited: the page is compiled again too
    put(srv, "psp/parts/edit.inc", "inc-v2 edited")
    assert ok(srv.request("/psp/edit.psp")) == "v2, longer inc-v2 edited 0"
    # replaced by another file (an editor's rename), same size and time
    new = put(srv, "psp/edit.new", 'v3, longer <%@ include file="parts/edit.inc" %> ' + hits)
    st = os.stat(os.path.join(srv.htdocs, "psp", "edit.psp"))
    os.utime(new, ns=(st.st_atime_ns, st.st_mtime_ns))
    os.rename(new, os.path.join(srv.htdocs, "psp", "edit.psp"))
    assert ok(srv.request("/psp/edit.psp")) == "v3, longer inc-v2 edited 0"
    os.unlink(os.path.join(srv.htdocs, "psp", "edit.psp"))
    assert srv.request("/psp/edit.psp").status == 404


def test_dbm_cache(srv):
    assert ok(srv.request("/dbm/page.psp")) == "dbm 42\n"
    page = os.path.join(srv.htdocs, "dbm", "page.psp")
    # read by the embedded Python's dbm (3.13's default is dbm.sqlite3)
    keys = run_embedded_python("import dbm, sys\nwith dbm.open(sys.argv[1], 'r') as db:\n"
                               "    print('\\n'.join(k.decode() for k in db.keys()))",
                               srv.path("cache", "psp.db"))
    assert page in keys.splitlines(), keys
    assert ok(srv.request("/dbm/page.psp")) == "dbm 42\n"
    put(srv, "dbm/page.psp", "dbm edited <%= 6 * 9 %>\n")
    assert ok(srv.request("/dbm/page.psp")) == "dbm edited 54\n"
    assert ok(srv.request("/dbm/page.psp")) == "dbm edited 54\n"


# ------------------------------------------------------------ the PSP class

def test_psp_class_from_a_handler(srv):
    assert ok(srv.request("/api/string")) == "Hi you 1|Hi them 1|bytes 6|"
    assert ok(srv.request("/api/file")) == "tmpl file run\n"
    r = srv.request("/api/str")
    assert ok(r) == "tmpl s 0\n" and r.headers["Content-Type"].startswith("text/html")
    assert js(srv.request("/api/both")) == {"error": "Must specify either filename or string"}
    assert srv.request("/api/missing").status == 404
    text = ok(srv.request("/api/display"))
    assert text.startswith("<table>") and "req.write(str(&nbsp;who&nbsp;),0)" in text


def test_pages_in_another_interpreter(srv):
    assert ok(srv.request("/other/page.psp")) == "other 2\n"
    assert ok(srv.request("/psp/hello.psp")).startswith("<html>")


def test_session_page(srv):
    if not os.path.exists(os.path.join(ROOT, "lib", "python", "mod_python", "Session.py")):
        pytest.skip("mod_python.Session is not there yet")
    r = srv.request("/psp/session.psp")
    assert ok(r) == "n=1 new=True\n"
    cookie = r.headers["Set-Cookie"].split(";")[0]
    r = srv.request("/psp/session.psp", headers={"Cookie": cookie})
    assert ok(r) == "n=2 new=False\n"
    # a page that fails leaves the session unlocked and unsaved
    r = srv.request("/psp/session_fail.psp?fail", headers={"Cookie": cookie}, timeout=10)
    assert r.status == 500 and "page failed" in r.text
    r = srv.request("/psp/session_fail.psp", headers={"Cookie": cookie}, timeout=10)
    assert ok(r) == "n=3\n"
    if srv.mpm == "prefork":   # a DbmSession, in the test's own tree
        assert [f for f in os.listdir(srv.path("cache")) if f.startswith("mp_sess.dbm")]


# ------------------------------------------------------------ threads

def test_pages_served_by_threads_while_edited():
    """worker: 16 threads read a page while it is replaced; each answer is
    one whole version of it, and the last one is served at the end."""
    if "worker" not in MPMS:
        pytest.skip("worker not tested here")
    h = start("worker", threaded(1, 16))
    try:
        versions = ["version %d <%%= %d * 2 %%> %s\n" % (i, i, "x" * i) for i in range(20)]
        outputs = {"version %d %d %s\n" % (i, i * 2, "x" * i) for i in range(20)}
        put(h, "psp/live.psp", versions[0])

        def reader(_):
            seen = set()
            for _ in range(40):
                seen.add(ok(h.request("/psp/live.psp")))
            return seen

        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            futures = [pool.submit(reader, i) for i in range(16)]
            for v in versions[1:]:
                time.sleep(0.02)
                replace(h, "psp/live.psp", v)
            seen = set().union(*(f.result() for f in futures))
        assert seen <= outputs and len(seen) > 1, seen
        assert ok(h.request("/psp/live.psp")) == "version 19 38 %s\n" % ("x" * 19)
    finally:
        h.cleanup()


# ------------------------------------------------------------ fuzzing

def test_translator_fuzz_target_runs():
    """make fuzz-psp for a few seconds (libFuzzer, ASan, UBSan)."""
    if not shutil.which("clang") or not os.path.exists(os.path.join(ROOT, "Makefile")):
        pytest.skip("clang or a configured tree is missing")
    r = subprocess.run(["make", "-s", "fuzz-psp", "FUZZ_SECONDS=5"], cwd=ROOT,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert re.search(r"Done \d+ runs", r.stderr), r.stderr[-2000:]
