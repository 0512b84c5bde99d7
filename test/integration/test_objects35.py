"""mod_python 3.5's table, mp_finfo (req.finfo, apache.stat), query-string
parsers (_apache.parse_qs / parse_qsl) and apache.config_tree, used as 3.5
applications use them, against a real httpd: event and prefork.  The
handlers are in apps/objects35/."""
import ast
import email.utils
import json
import os
import urllib.parse

import pytest

from harness import Httpd, one_child

APR_NOFILE, APR_REG, APR_DIR, APR_CHR, APR_LNK = 0, 1, 2, 3, 6
APR_FINFO_LINK, APR_FINFO_SIZE, APR_FINFO_TYPE = 0x1, 0x100, 0x8000
APR_FINFO_MIN, APR_FINFO_NORM = 0x8170, 0x73B170


@pytest.fixture(scope="module", params=["event", "prefork"])
def srv(request):
    h = Httpd(request.param)
    try:
        h.config(h.install_app("objects35"), mpm_settings=one_child(request.param))
        # the children (www-data) may not look inside this one
        os.chmod(h.path("htdocs/app/private"), 0o700)
        os.symlink("data.txt", h.path("htdocs/app/files/link.txt"))
        h.start()
        yield h
    finally:
        h.cleanup()


def js(r):
    assert r.status == 200, (r.status, r.body)
    return json.loads(r.body)


def post(srv, path, obj):
    return js(srv.request(path, method="POST", body=json.dumps(obj).encode()))


# ------------------------------------------------------------ tables

def test_table_reads_first_value_with_get_and_a_list_with_brackets(srv):
    d = js(srv.get("/app/tables"))["reads"]
    assert d["type"] == "mp_table" and d["req_type"] == "mp_table"
    assert d["get_repeated"] == "a/1"
    assert d["item_repeated"] == ["a/1", "a/2"]
    assert d["get_missing"] == "dflt"
    assert d["repr"] == "{'Accept': 'a/1', 'accept': 'a/2', 'Host': 'h'}"
    assert d["repr_empty"] == "{}"
    assert d["iter_is_iter"] is True
    assert d["iters"] == [["accept", "Host"], ["a/1", "a/2", "h"],
                          [["Accept", "a/1"], ["accept", "a/2"], ["Host", "h"]]]


def test_table_compares_as_a_dict(srv):
    d = js(srv.get("/app/tables"))["compare"]
    assert d == {"eq_dict": True, "dict_eq": True, "eq_copy": True, "ne_other": True,
                 "eq_table": True, "ne_dict": True, "eq_case": True, "eq_case_dict": True,
                 "rep_list": True, "rep_first": False, "eq_int": False,
                 "lt": "TypeError", "unhashable": "TypeError"}


def test_table_update_constructor_popitem_and_del(srv):
    d = js(srv.get("/app/tables"))["writes"]
    # keys and values through str(): pairs, a dict, a keys() object
    assert d["t"] == [["2", "b"], ["3", "4.5"], ["c", "d"], ["1", "10"], ["two", "2.5"]]
    assert d["u"] == [["1", "10"], ["two", "2.5"]]
    # popitem: the last pair added, KeyError once empty
    assert d["popped"] == [["X", "3"], "{'x': '1', 'y': '2'}", ["y", "2"], ["x", "1"]]
    assert d["pop_empty"] == "KeyError"
    assert d["again"] == [["k", "3"], [["j", "2"], ["k", "1"]]]
    # update() from a table: its keys get all of its values
    assert d["dst"] == [["z", "0"], ["m", "1"], ["m", "2"]]
    assert d["bad_pair"] == "ValueError" and d["bad_item"] == "TypeError"
    assert d["kwargs"] == "TypeError"


def test_table_subclass(srv):
    d = js(srv.get("/app/tables"))["subclass"]
    assert d == {"type": "Headers", "isinstance": True, "origin": "app",
                 "note": "any attribute", "first": "x", "all": ["x", "y"],
                 "copy_type": "Headers", "eq": True, "freed": True}


def test_response_headers_through_the_new_table_methods(srv):
    r = srv.get("/app/tables")
    d = js(r)
    assert r.headers["X-Count"] == "3"            # update() with an int value
    assert d["out_get"] == "a"
    assert d["out_popitem"] == ["X-Multi", "b"]
    assert r.headers.get_all("X-Multi") == ["a"]
    # no response splitting through update(), from a dict or from pairs
    assert d["crlf_update"] == "ValueError" and d["crlf_pairs"] == "ValueError"
    assert "X-Bad" not in r.headers and "Injected" not in r.headers


def test_kept_table_raises_and_kept_finfo_reads(srv):
    kept = js(srv.get("/app/keep"))
    d = js(srv.get("/app/kept"))
    for op in ("get", "popitem", "update", "iterkeys", "eq", "repr"):
        assert d[op] == "RuntimeError", (op, d)
    # an mp_finfo is a copy: it outlives its request
    assert d["finfo"] == kept["finfo"] and d["finfo"][0] == srv.path("htdocs/app/keep")


# ------------------------------------------------------------ finfo

def prot(mode):
    """APR's protection bits of a st_mode: 0644 is 0x644."""
    return int(oct(mode & 0o777)[2:], 16)


def test_req_finfo_of_a_file(srv):
    d = js(srv.get("/app/files/data.txt"))
    path = srv.path("htdocs/app/files/data.txt")
    st = os.stat(path)
    a = d["attrs"]
    assert a["fname"] == path and a["filetype"] == APR_REG
    assert a["size"] == st.st_size == 10
    assert (a["inode"], a["device"], a["nlink"]) == (st.st_ino, st.st_dev, st.st_nlink)
    assert (a["user"], a["group"]) == (st.st_uid, st.st_gid)
    assert a["protection"] == prot(st.st_mode) == 0x644
    # whole seconds, as 3.5 gave them
    assert (a["atime"], a["mtime"], a["ctime"]) == (int(st.st_atime), int(st.st_mtime),
                                                    int(st.st_ctime))
    assert a["name"] is None
    assert a["valid"] & APR_FINFO_MIN == APR_FINFO_MIN
    # finfo[apache.FINFO_*] reads the same fields
    i = d["items"]
    assert [i["FINFO_MODE"], i["FINFO_INO"], i["FINFO_DEV"], i["FINFO_NLINK"],
            i["FINFO_UID"], i["FINFO_GID"], i["FINFO_SIZE"], i["FINFO_ATIME"],
            i["FINFO_MTIME"], i["FINFO_CTIME"], i["FINFO_FNAME"], i["FINFO_NAME"],
            i["FINFO_FILETYPE"]] == [
        a["protection"], a["inode"], a["device"], a["nlink"], a["user"], a["group"],
        a["size"], a["atime"], a["mtime"], a["ctime"], a["fname"], a["name"], a["filetype"]]
    assert d["type"] == "mp_finfo"
    # repr: a dict's, the fields in 3.5's order
    rep = ast.literal_eval(d["repr"])
    assert list(rep) == ["fname", "filetype", "valid", "protection", "user", "group", "size",
                         "inode", "device", "nlink", "atime", "mtime", "ctime", "name"]
    assert rep == a
    assert (d["past_end"], d["negative"], d["readonly"]) == ("IndexError", "IndexError",
                                                             "AttributeError")


def test_req_finfo_of_a_missing_file(srv):
    a = js(srv.get("/app/files/nothere"))["attrs"]
    assert a["filetype"] == APR_NOFILE and a["valid"] is None
    for k in ("protection", "user", "group", "inode", "device", "nlink", "size",
              "atime", "mtime", "ctime", "name"):
        assert a[k] is None, k


def test_stat(srv):
    data = srv.path("htdocs/app/files/data.txt")
    files = srv.path("htdocs/app/files")
    link = srv.path("htdocs/app/files/link.txt")
    missing = srv.path("htdocs/app/files/missing.txt")
    secret = srv.path("htdocs/app/private/secret.txt")
    res = post(srv, "/app/stat", [
        [data, APR_FINFO_MIN], [files, APR_FINFO_NORM], [missing, APR_FINFO_MIN],
        [data + "/x", APR_FINFO_MIN], [secret, APR_FINFO_MIN],
        [link, APR_FINFO_LINK | APR_FINFO_TYPE], [link, APR_FINFO_MIN], ["", APR_FINFO_MIN],
        ["/dev/null", APR_FINFO_TYPE], [data, APR_FINFO_SIZE]])
    st = os.stat(data)
    f = res[0]["attrs"]
    assert (f["fname"], f["filetype"], f["size"], f["mtime"]) == (
        data, APR_REG, st.st_size, int(st.st_mtime))
    assert res[1]["attrs"]["filetype"] == APR_DIR
    assert res[1]["attrs"]["protection"] == prot(os.stat(files).st_mode)
    # a missing file is no error: APR_NOFILE and nothing valid (3.5)
    assert res[2]["attrs"] == {k: None for k in res[2]["attrs"]} | {"filetype": APR_NOFILE}
    assert res[3] == {"error": "NotADirectoryError", "errno": 20, "filename": data + "/x"}
    assert res[4] == {"error": "PermissionError", "errno": 13, "filename": secret}
    assert res[5]["attrs"]["filetype"] == APR_LNK
    assert res[6]["attrs"]["filetype"] == APR_REG and res[6]["attrs"]["size"] == 10
    assert res[7]["attrs"]["filetype"] == APR_NOFILE
    assert res[8]["attrs"]["filetype"] == APR_CHR
    assert res[9]["attrs"]["size"] == 10


def test_stat_bad_arguments(srv):
    d = js(srv.get("/app/badstat"))
    assert d == {"no_wanted": "TypeError", "int_name": "TypeError", "nul": "ValueError",
                 "str_wanted": "TypeError", "alias": True, "new": "TypeError"}


def test_set_req_finfo(srv):
    data = srv.path("htdocs/app/files/data.txt")
    d = js(srv.get("/app/setfinfo?" + data))
    assert d["before"] == APR_NOFILE
    assert d["after"]["fname"] == data and d["after"]["size"] == 10
    assert d["after"]["filetype"] == APR_REG
    assert d["not_finfo"] == "TypeError" and d["delete"] == "TypeError"


def test_finfo_set_by_a_fixup_reaches_httpds_handler(srv):
    """The publisher's way: req.filename and req.finfo re-pointed, and
    httpd's own handler sends that file, with its length and date."""
    real = srv.path("htdocs/static/real.txt")
    r = srv.get("/static/alias.txt")
    assert r.status == 200, (r.status, srv.log()[-2000:])
    assert r.body == b"the real file\n"
    assert r.headers["Content-Length"] == "14"
    assert r.headers["Last-Modified"] == email.utils.formatdate(
        int(os.stat(real).st_mtime), usegmt=True)
    assert r.headers["X-Before"] == str(APR_NOFILE)
    # without req.finfo, httpd still sees the missing file's: 404
    assert srv.get("/static/alias.txt?nofinfo").status == 404


# ------------------------------------------------------------ query strings

QS = ["a=1&b=2", "a=1&a=2&a=3", "a", "a=", "=b", "a=&b", "&&a=1&&", "a+b=c+d",
      "a%20b=c%2bd", "a=%zz", "a=%4", "a=b%", "a=%%41", "a=%41%4a%4A",
      "%E2%82%AC=%E2%82%AC", "a=%ff%fe", "a=%C3", "a==b", "a=1=2", "", "&", "a=%00b",
      "+=+", "a=1&=2&b=", "é=è", "k=é&k=%C3%A9", "a=1 2", "a=1;b=2", "x=1;y", ";",
      "a;b", "a=1&b=2;c=3&&d", "q=%2B%26%3D%3B"]


def expected(fn, qs, keep, strict):
    """urllib.parse's answer with 3.5's separators ('&' and ';') and our
    text rule (UTF-8, surrogateescape), as the handler reports it."""
    sep = b";" if isinstance(qs, bytes) else ";"
    amp = b"&" if isinstance(qs, bytes) else "&"
    try:
        return repr(fn(qs.replace(sep, amp), keep_blank_values=keep, strict_parsing=strict,
                       errors="surrogateescape", separator="&"))
    except ValueError as e:
        return repr({"error": "ValueError", "msg": str(e)})


def test_parse_qs_and_parse_qsl_as_urllib_with_both_separators(srv):
    cases = [[qs, keep, strict] for qs in QS for keep in (0, 1) for strict in (0, 1)]
    res = post(srv, "/app/qscases", cases)
    for (qs, keep, strict), got in zip(cases, res):
        assert got["qs"] == expected(urllib.parse.parse_qs, qs, keep, strict), (qs, keep, strict)
        assert got["qsl"] == expected(urllib.parse.parse_qsl, qs, keep, strict), (qs, keep, strict)


def test_parse_qs_of_bytes_gives_bytes(srv):
    """Bytes in, bytes out, byte for byte (urllib takes ASCII bytes only:
    its answer here is over the Latin-1 text of the same bytes)."""
    raw = ["a=1&b=%41;c", "k=\xe9&k=%C3%A9", "x=%ff+y"]
    cases = [[{"bytes": q}, keep, 0] for q in raw for keep in (0, 1)]
    res = post(srv, "/app/qscases", cases)
    for (q, keep, _), got in zip(cases, res):
        b = q["bytes"].encode("latin-1")
        text = urllib.parse.parse_qsl(q["bytes"].replace(";", "&"), keep_blank_values=keep,
                                      encoding="latin-1")
        pairs = [(k.encode("latin-1"), v.encode("latin-1")) for k, v in text]
        d = {}
        for k, v in pairs:
            d.setdefault(k, []).append(v)
        assert got["qsl"] == repr(pairs), (b, keep)
        assert got["qs"] == repr(d), (b, keep)


def test_parse_qs_of_req_args(srv):
    d = js(srv.get("/app/qs?name=J%C3%BCrgen+X&tag=a;tag=b&empty=&flag"))
    assert d["qs"] == {"name": ["Jürgen X"], "tag": ["a", "b"]}
    assert d["qsl"] == [["name", "Jürgen X"], ["tag", "a"], ["tag", "b"]]
    assert d["blank"] == [["name", "Jürgen X"], ["tag", "a"], ["tag", "b"], ["empty", ""],
                          ["flag", ""]]


def test_parse_qs_bad_arguments(srv):
    assert js(srv.get("/app/qsbad")) == {"none": "TypeError", "int": "TypeError",
                                         "noarg": "TypeError", "kw": "TypeError"}


# ------------------------------------------------------------ config_tree, names

def test_config_tree(srv):
    d = js(srv.get("/app/tree"))
    tree = d["tree"]
    assert d["same"] is True
    assert ["Listen", "127.0.0.1:%d" % srv.port] in tree

    def check(level):
        """(directive, args) pairs of str; a list only after a section."""
        for i, node in enumerate(level):
            if len(node) == 2 and all(isinstance(s, str) for s in node):
                continue
            assert i > 0 and level[i - 1][0].startswith("<"), (i, node)
            check(node)
    check(tree)
    i = tree.index(["<Directory", srv.htdocs + "/app>"])
    children = tree[i + 1]
    assert ["SetHandler", "mod_python"] in children
    assert ["PythonOption", 'objects35.marker "seen in config_tree"'] in children
    assert '  PythonOption objects35.marker "seen in config_tree"' in d["text"]


APR_FINFO = {
    "LINK": 0x1, "MTIME": 0x10, "CTIME": 0x20, "ATIME": 0x40, "SIZE": 0x100,
    "CSIZE": 0x200, "DEV": 0x1000, "INODE": 0x2000, "NLINK": 0x4000, "TYPE": 0x8000,
    "USER": 0x10000, "GROUP": 0x20000, "UPROT": 0x100000, "GPROT": 0x200000,
    "WPROT": 0x400000, "ICASE": 0x1000000, "NAME": 0x2000000, "MIN": 0x8170,
    "IDENT": 0x3000, "OWNER": 0x30000, "PROT": 0x700000, "NORM": 0x73B170,
    "DIRENT": 0x2000000}


def test_constants_of_3_5(srv):
    d = js(srv.get("/app/consts"))
    want = {"APR_" + k: v for k, v in zip(
        ["NOFILE", "REG", "DIR", "CHR", "BLK", "PIPE", "LNK", "SOCK", "UNKFILE"],
        [0, 1, 2, 3, 4, 5, 6, 7, 127])}
    want.update({"APR_FINFO_" + k: v for k, v in APR_FINFO.items()})
    want.update({"FINFO_" + k: i for i, k in enumerate(
        ["MODE", "INO", "DEV", "NLINK", "UID", "GID", "SIZE", "ATIME", "MTIME", "CTIME",
         "FNAME", "NAME", "FILETYPE"])})
    want.update({"AP_REQ_ACCEPT_PATH_INFO": 0, "AP_REQ_REJECT_PATH_INFO": 1,
                 "AP_REQ_DEFAULT_PATH_INFO": 2})
    assert len(want) == 48
    assert d["apache"] == want and d["_apache"] == want
    assert d["REQ_ABORTED"] == 500 and d["REQ_EXIT"] == "REQ_EXIT"
    assert d["stat"] is True and d["config_tree"] is True
