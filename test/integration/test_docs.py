"""The documentation in doc/ keeps up with the code: every directive of the
C command table has a heading in doc/directives.md, every member of the
request, connection, server, table, filter, hlist and finfo types (read
from their C method and attribute tables) and every public name of
mod_python.apache is named in its section of doc/api.md, every
relative link of doc/*.md and the README points to a file that exists (and
a link to a heading, to a heading that exists), and every ```apache block
of doc/*.md passes httpd's configtest.

The C sources and apache.py are parsed as text (no module is loaded), so a
member added to a table without a line in the docs fails here; the
snippets run `httpd -t` only, no server is started."""
import ast
import glob
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DOC = os.path.join(ROOT, "doc")
OBJECTS = os.path.join(ROOT, "src", "objects")


def read(*parts):
    with open(os.path.join(ROOT, *parts), encoding="utf-8") as f:
        return f.read()


def strip_c_comments(text):
    return re.sub(r"/\*.*?\*/", " ", text, flags=re.S)


# ------------------------------------------------------------ C tables

def c_macros():
    """Every #define of src/objects/*.[ch]: name -> (params or None, body),
    continuation lines joined."""
    macros = {}
    for path in sorted(glob.glob(os.path.join(OBJECTS, "*.[ch]"))):
        with open(path, encoding="utf-8") as f:
            text = strip_c_comments(f.read()).replace("\\\n", " ")
        for m in re.finditer(r"^#define\s+(\w+)(\(([^)]*)\))?[ \t]*(.*)$", text, re.M):
            params = m.group(3).split(",") if m.group(2) else None
            macros[m.group(1)] = (params, m.group(4))
    return macros


def c_array(filename, name):
    """The initialiser of `static PyXxxDef name[] = { ... };` in filename."""
    text = strip_c_comments(read("src", "objects", filename))
    m = re.search(r"static\s+Py\w+Def\s+%s\[\]\s*=\s*\{(.*?)\n\};" % re.escape(name),
                  text, re.S)
    assert m, "no table %s in src/objects/%s" % (name, filename)
    return m.group(1)


def expand(body, macros, depth=0):
    """Entry names of a table body: `{"name", ...}` and `GET("name", ...)`
    entries, macros like MP_REQ_HTTP_METHODS expanded, and X-macro lists
    (REQ_STR_FIELDS(X) under a `#define X(field, ...) {#field, ...`)
    giving the first argument of each X(...)."""
    assert depth < 5, "macro nesting too deep"
    names = set(re.findall(r'(?:\{|\bGET\()\s*"([A-Za-z_]\w*)"', body))
    stringifies = re.search(r"#define\s+X\([^)]*\)\s*\{\s*#", body)
    for word in set(re.findall(r"\b([A-Z][A-Z0-9_]+)\b", body)):
        if word not in macros:
            continue
        params, definition = macros[word]
        if params is None:
            names |= expand(definition, macros, depth + 1)
        elif stringifies and re.search(r"\b%s\(X\)" % word, body):
            names |= set(re.findall(r"\bX\(\s*(\w+)", definition))
    return names


# object -> (heading of its section in doc/api.md, [(file, table), ...])
TYPES = {
    "request": ("The request object", [("mp_request.c", "req_methods"),
                                       ("mp_request.c", "req_getset")]),
    "connection": ("The connection object", [("mp_server.c", "conn_methods"),
                                             ("mp_server.c", "conn_getset")]),
    "server": ("The server object", [("mp_server.c", "srv_methods"),
                                     ("mp_server.c", "srv_getset")]),
    "table": ("The table object", [("mp_table.c", "tbl_methods")]),
    "filter": ("The filter object", [("mp_filter.c", "flt_methods"),
                                     ("mp_filter.c", "flt_getset")]),
    "hlist": ("The hlist object", [("mp_hlist.c", "hl_methods"),
                                   ("mp_hlist.c", "hl_getset")]),
    "finfo": ("The finfo object", [("mp_finfo.c", "finfo_getset")]),
    "_apache": ("The _apache module", [("mp_apachemod.c", "apmod_methods")]),
}


def type_members(kind):
    macros = c_macros()
    names = set()
    for filename, table in TYPES[kind][1]:
        names |= expand(c_array(filename, table), macros)
    return {n for n in names if not (n.startswith("__") and n.endswith("__"))}


def test_parser_sees_the_tables():
    """The parser finds members in every way the tables name them: plain
    entries, header macros, X-macro lists and GET(...) entries."""
    req = type_members("request")
    assert {"write", "get_basic_auth_pw", "build_wsgi_env", "add_output_filter",
            "uri", "status", "headers_in", "hlist", "finfo", "_request_rec"} <= req
    assert {"server_hostname", "register_cleanup"} <= type_members("server")
    assert {"keepalive", "read", "hlist"} <= type_members("connection")
    assert {"fname", "filetype"} <= type_members("finfo")
    assert len(req) > 90, sorted(req)


# ------------------------------------------------------------ doc text

def doc(name):
    path = os.path.join(DOC, name)
    assert os.path.isfile(path), "missing doc/" + name
    with open(path, encoding="utf-8") as f:
        return f.read()


def section(text, heading):
    """The text under a Markdown heading, up to the next heading of the
    same or a higher level."""
    m = re.search(r"^(#+) %s\s*$" % re.escape(heading), text, re.M)
    assert m, "no heading '%s'" % heading
    level = len(m.group(1))
    end = re.compile(r"^#{1,%d} " % level, re.M).search(text, m.end())
    return text[m.end():end.start() if end else len(text)]


def named(text, name):
    """`name`, `name(...)`, `obj.name` or `name = ...` in code spans."""
    return re.search(r"`(?:[\w.]*\.)?%s(?:\b[^`]*)?`" % re.escape(name), text)


def test_every_directive_has_a_heading():
    table = strip_c_comments(read("src", "config", "mp_config.c"))
    body = table[table.index("mp_directives[] = {"):]
    directives = set(re.findall(r'(?:AP_INIT_\w+|HANDLER|FLAG)\(\s*"(Python\w+)"', body))
    assert len(directives) >= 29, sorted(directives)
    headings = set(re.findall(r"^#+ (Python\w+)\s*$", doc("directives.md"), re.M))
    assert not directives - headings, "directives without a heading in " \
        "doc/directives.md: %s" % sorted(directives - headings)
    assert not headings - directives, "doc/directives.md documents directives " \
        "the module does not have: %s" % sorted(headings - directives)


@pytest.mark.parametrize("kind", sorted(TYPES))
def test_every_member_is_documented(kind):
    heading = TYPES[kind][0]
    text = section(doc("api.md"), heading)
    missing = sorted(n for n in type_members(kind) if not named(text, n))
    assert not missing, "%s members not named under '%s' in doc/api.md: %s" % (
        kind, heading, missing)


def apache_public_names():
    """Top-level public names of mod_python.apache: its own definitions,
    what it imports from _apache, and the APR_/FINFO_/AP_REQ_ constants it
    copies from _apache (mp_finfo.c's table)."""
    tree = ast.parse(read("lib", "python", "mod_python", "apache.py"))
    names = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                for n in ast.walk(target):
                    if isinstance(n, ast.Name):
                        names.add(n.id)
        elif isinstance(node, ast.ImportFrom):
            names |= {a.asname or a.name for a in node.names}
    finfo = strip_c_comments(read("src", "objects", "mp_finfo.c"))
    consts = re.search(r"consts\[\] = \{(.*?)\};", finfo, re.S).group(1)
    names |= set(re.findall(r"\bC\((\w+)\)", consts))
    names |= {"FINFO_" + n for n in re.findall(r"\bFI\((\w+)\)", consts)}
    return {n for n in names if not n.startswith("_")}


def test_every_apache_name_is_documented():
    names = apache_public_names()
    assert {"OK", "SERVER_RETURN", "import_module", "APR_NOFILE", "FINFO_MODE",
            "AP_REQ_ACCEPT_PATH_INFO", "setup_cgi", "M_GET"} <= names
    text = section(doc("api.md"), "The apache module")
    missing = sorted(n for n in names if not named(text, n))
    assert not missing, "mod_python.apache names not in doc/api.md: %s" % missing


# ------------------------------------------------------------ links

LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def relative_links(path):
    with open(path, encoding="utf-8") as f:
        text = re.sub(r"```.*?```", "", f.read(), flags=re.S)
    for target in LINK.findall(text):
        if re.match(r"[a-z]+:", target) or target.startswith("#"):
            continue
        yield target.split("#")[0]


def test_relative_links_point_to_files():
    pages = sorted(glob.glob(os.path.join(DOC, "*.md"))) + [os.path.join(ROOT, "README")]
    assert len(pages) >= 10, pages
    broken = []
    for page in pages:
        for target in relative_links(page):
            path = os.path.normpath(os.path.join(os.path.dirname(page), target))
            if not os.path.exists(path):
                broken.append("%s -> %s" % (os.path.relpath(page, ROOT), target))
    assert not broken, "broken links: %s" % broken


def slug(heading):
    """GitHub's anchor for a Markdown heading."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def test_anchors_exist():
    """`page.md#anchor` and `#anchor` links of doc/*.md name a heading of
    that page."""
    broken = []
    for page in sorted(glob.glob(os.path.join(DOC, "*.md"))):
        with open(page, encoding="utf-8") as f:
            text = re.sub(r"```.*?```", "", f.read(), flags=re.S)
        for target in LINK.findall(text):
            if "#" not in target or re.match(r"[a-z]+:", target):
                continue
            name, anchor = target.split("#", 1)
            path = os.path.join(os.path.dirname(page), name) if name else page
            if not os.path.isfile(path):
                continue   # a missing page is test_relative_links_point_to_files's
            with open(path, encoding="utf-8") as f:
                body = re.sub(r"```.*?```", "", f.read(), flags=re.S)
            anchors = {slug(h) for h in re.findall(r"^#+ (.*)$", body, re.M)}
            if anchor not in anchors:
                broken.append("%s -> %s" % (os.path.basename(page), target))
    assert not broken, "links to missing headings: %s" % broken


def test_index_links_every_page():
    index = set(relative_links(os.path.join(DOC, "README.md")))
    pages = {os.path.basename(p) for p in glob.glob(os.path.join(DOC, "*.md"))}
    missing = sorted(pages - index - {"README.md"})
    assert not missing, "doc/README.md does not link: %s" % missing


# ------------------------------------------------------------ snippets

def apache_blocks():
    """(page, n, text) of every ```apache block of doc/*.md."""
    for path in sorted(glob.glob(os.path.join(DOC, "*.md"))):
        with open(path, encoding="utf-8") as f:
            blocks = re.findall(r"^```apache\n(.*?)^```", f.read(), re.M | re.S)
        for n, text in enumerate(blocks, 1):
            yield os.path.basename(path), n, text


def test_there_are_snippets():
    assert len(list(apache_blocks())) >= 20


@pytest.mark.parametrize("page,n,text", list(apache_blocks()),
                         ids=lambda v: str(v) if not isinstance(v, str) or len(v) < 30 else "")
def test_snippet_passes_configtest(httpd_factory, page, n, text):
    """Each configuration snippet of the docs, under the harness's base
    configuration with the modules the snippets use: httpd -t accepts it
    (no server is started)."""
    h = httpd_factory("event")
    h.config(text, modules=("auth_basic", "status", "filter", "deflate"))
    ok, out = h.configtest()
    assert ok, "%s, apache block %d:\n%s\n%s" % (page, n, text, out)
