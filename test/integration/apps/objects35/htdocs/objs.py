"""mod_python 3.5's tables, finfo, stat, query-string parsers and
config_tree, used as 3.5 applications use them: /app/<action>[/more]."""
import json
import weakref

import _apache
from mod_python import apache

saved = {}


def handler(req):
    action = req.uri.split("/")[2]
    return globals()["do_" + action](req)


def out(req, obj):
    req.content_type = "application/json"
    req.write(json.dumps(obj))
    return apache.OK


def error(f):
    """What calling f() raises: the exception's type name, or None."""
    try:
        f()
    except Exception as e:
        return type(e).__name__
    return None


# ------------------------------------------------------------ tables

class Keys:
    """An object with keys() and [] but no items(): 3.5's update() took it."""
    def keys(self):
        return [1, "two"]

    def __getitem__(self, k):
        return {1: 10, "two": 2.5}[k]


class Headers(apache.table):
    """An application's table subclass (3.5 allowed apache.table as a base)."""
    def __init__(self, *args):
        super().__init__(*args)
        self.origin = "app"

    def first(self, key):
        return self.get(key)


def table_reads(req):
    t = apache.table()
    t.add("Accept", "a/1")
    t.add("accept", "a/2")
    t["Host"] = "h"
    d = {"type": type(t).__name__, "req_type": type(req.headers_in).__name__,
         "get_repeated": t.get("ACCEPT"), "item_repeated": t["accept"],
         "get_missing": t.get("nope", "dflt"), "repr": repr(t),
         "repr_empty": repr(apache.table())}
    ki, vi, ii = t.iterkeys(), t.itervalues(), t.iteritems()
    d["iter_is_iter"] = iter(ki) is ki and next(ki) == "Accept"
    d["iters"] = [list(ki), list(vi), [list(p) for p in ii]]
    return d


def table_compare():
    a = apache.table({"k": "v", "n": "1"})
    rep = apache.table()
    rep.add("k", "1")
    rep.add("K", "2")
    return {"eq_dict": a == {"k": "v", "n": "1"}, "dict_eq": {"n": "1", "k": "v"} == a,
            "eq_copy": a == a.copy(), "ne_other": a != apache.table({"k": "v"}),
            "eq_table": a == apache.table([("n", "1"), ("k", "v")]),
            "ne_dict": a != {"k": "other", "n": "1"},
            "eq_case": apache.table({"K": "v"}) == apache.table({"k": "v"}),
            "eq_case_dict": apache.table({"K": "v"}) == {"k": "v"},
            "rep_list": rep == {"k": ["1", "2"]}, "rep_first": rep == {"k": "1"},
            "eq_int": a == 3, "lt": error(lambda: a < a.copy()),
            "unhashable": error(lambda: hash(a))}


def table_writes():
    t = apache.table([("a", 1), (2, "b")])          # pairs, through str()
    u = apache.table(Keys())                         # a keys() object
    t.update({3: 4.5})
    t.update([("c", "d")])
    t.update(Keys())
    rep = apache.table()
    rep.add("x", "1")
    rep.add("y", "2")
    rep.add("X", "3")
    popped = [rep.popitem(), repr(rep), rep.popitem(), rep.popitem()]
    again = apache.table()
    again.add("k", "1")
    again.add("j", "2")
    again.add("k", "3")
    again_popped = again.popitem()                   # the key's other value stays
    src = apache.table()
    src.add("m", "1")
    src.add("m", "2")
    dst = apache.table({"M": "old", "z": "0"})
    dst.update(src)                                  # a table: all of its values
    del t["never-there"]                             # silent, as 3.5
    del t["a"]
    return {"t": t.items(), "u": u.items(), "popped": [list(p) if isinstance(p, tuple) else p
                                                        for p in popped],
            "pop_empty": error(rep.popitem), "dst": dst.items(),
            "again": [list(again_popped), sorted(again.items())],
            "bad_pair": error(lambda: t.update([("only-one",)])),
            "bad_item": error(lambda: apache.table([3])),
            "kwargs": error(lambda: apache.table(a="1"))}


def table_subclass():
    h = Headers({"Via": "x"})
    h.add("via", "y")
    h.note = "any attribute"
    ref = weakref.ref(h)
    c = h.copy()
    r = {"type": type(h).__name__, "isinstance": isinstance(h, apache.table),
         "origin": h.origin, "note": h.note, "first": h.first("VIA"), "all": h["via"],
         "copy_type": type(c).__name__, "eq": h == {"Via": ["x", "y"]}}
    for _ in range(2000):                            # made and freed
        Headers([("k", "v")]).add("k", "w")
    del h
    r["freed"] = ref() is None
    return r


def do_tables(req):
    d = {"reads": table_reads(req), "compare": table_compare(),
         "writes": table_writes(), "subclass": table_subclass()}
    # a response header through update() with an int value, and the
    # header-splitting rule kept on the way
    req.headers_out.update({"X-Count": 3})
    req.headers_out.add("X-Multi", "a")
    req.headers_out.add("X-Multi", "b")
    d["out_get"] = req.headers_out.get("x-multi")
    d["out_popitem"] = list(req.headers_out.popitem())
    d["crlf_update"] = error(lambda: req.headers_out.update({"X-Bad": "a\r\nInjected: 1"}))
    d["crlf_pairs"] = error(lambda: req.headers_out.update([("X-Bad", "a\nb")]))
    return out(req, d)


def do_keep(req):
    """Keep this request's table and finfo for the next request."""
    saved["table"] = req.headers_in
    saved["finfo"] = f = req.finfo
    return out(req, {"kept": True, "finfo": [f.fname, f.filetype, f.size, f.mtime]})


def do_kept(req):
    t, f = saved["table"], saved["finfo"]
    return out(req, {"get": error(lambda: t.get("host")),
                     "popitem": error(t.popitem), "update": error(lambda: t.update({"a": "b"})),
                     "iterkeys": error(t.iterkeys), "eq": error(lambda: t == {}),
                     "repr": error(lambda: repr(t)),
                     "finfo": [f.fname, f.filetype, f.size, f.mtime]})


# ------------------------------------------------------------ finfo, stat

FIELDS = ("fname", "filetype", "valid", "protection", "user", "group", "inode",
          "device", "nlink", "size", "atime", "mtime", "ctime", "name")
INDEXES = ("FINFO_MODE", "FINFO_INO", "FINFO_DEV", "FINFO_NLINK", "FINFO_UID",
           "FINFO_GID", "FINFO_SIZE", "FINFO_ATIME", "FINFO_MTIME", "FINFO_CTIME",
           "FINFO_FNAME", "FINFO_NAME", "FINFO_FILETYPE")


def finfo_dict(f):
    return {"attrs": {a: getattr(f, a) for a in FIELDS},
            "items": {i: f[getattr(apache, i)] for i in INDEXES},
            "type": type(f).__name__, "repr": repr(f),
            "past_end": error(lambda: f[13]), "negative": error(lambda: f[-1]),
            "readonly": error(lambda: setattr(f, "size", 1))}


def do_files(req):
    """/app/files/<name>: req.finfo of the file httpd mapped the URL to."""
    return out(req, finfo_dict(req.finfo))


def do_stat(req):
    """POST [[path, wanted], ...]: apache.stat() of each, or the error."""
    res = []
    for path, wanted in json.loads(req.read()):
        try:
            res.append(finfo_dict(apache.stat(path, wanted)))
        except OSError as e:
            res.append({"error": type(e).__name__, "errno": e.errno, "filename": e.filename})
    return out(req, res)


def do_setfinfo(req):
    """req.finfo = apache.stat(...): read back the request's own finfo."""
    before = req.finfo.filetype
    req.finfo = apache.stat(req.args, apache.APR_FINFO_NORM)
    return out(req, {"before": before, "after": finfo_dict(req.finfo)["attrs"],
                     "not_finfo": error(lambda: setattr(req, "finfo", (1, 2))),
                     "delete": error(lambda: delattr(req, "finfo"))})


def do_badstat(req):
    return out(req, {"no_wanted": error(lambda: apache.stat("/")),
                     "int_name": error(lambda: apache.stat(3, 0)),
                     "nul": error(lambda: apache.stat("/etc\0x", 0)),
                     "str_wanted": error(lambda: apache.stat("/", "x")),
                     "alias": apache.stat is _apache.stat,
                     "new": error(lambda: type(apache.stat("/", 0))())})


# ------------------------------------------------------------ query strings

def do_qs(req):
    """util.FieldStorage's way: _apache.parse_qsl(req.args, keep_blank)."""
    return out(req, {"qs": _apache.parse_qs(req.args), "qsl": _apache.parse_qsl(req.args),
                     "blank": _apache.parse_qsl(req.args, 1)})


def do_qscases(req):
    """POST [[qs, keep, strict], ...]: parse_qs and parse_qsl of each
    (bytes when qs is given as {"bytes": latin-1 text})."""
    res = []
    for qs, keep, strict in json.loads(req.read()):
        if isinstance(qs, dict):
            qs = qs["bytes"].encode("latin-1")
        r = {}
        for name, f in (("qs", _apache.parse_qs), ("qsl", _apache.parse_qsl)):
            try:
                v = f(qs, keep, strict)
            except Exception as e:
                v = {"error": type(e).__name__, "msg": str(e)}
            r[name] = repr(v)
        res.append(r)
    return out(req, res)


def do_qsbad(req):
    return out(req, {"none": error(lambda: _apache.parse_qs(None)),
                     "int": error(lambda: _apache.parse_qsl(3)),
                     "noarg": error(lambda: _apache.parse_qsl()),
                     "kw": error(lambda: _apache.parse_qs("a=1", keep_blank_values=1))})


# ------------------------------------------------------------ the rest

def render(tree, depth=0):
    """config_tree() as text, one directive a line, children indented."""
    lines = []
    for node in tree:
        if isinstance(node, list):
            lines += render(node, depth + 1)
        else:
            lines.append("  " * depth + " ".join(node))
    return lines


def do_tree(req):
    tree = apache.config_tree()
    return out(req, {"tree": tree, "same": tree == _apache.config_tree(),
                     "text": render(tree)})


def do_consts(req):
    names = [n for n in dir(apache) if n.startswith(("APR_", "FINFO_", "AP_REQ_"))]
    return out(req, {"apache": {n: getattr(apache, n) for n in names},
                     "_apache": {n: getattr(_apache, n, None) for n in names},
                     "REQ_ABORTED": apache.REQ_ABORTED, "REQ_EXIT": apache.REQ_EXIT,
                     "stat": apache.stat is _apache.stat,
                     "config_tree": apache.config_tree is _apache.config_tree})
