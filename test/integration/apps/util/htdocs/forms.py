"""mod_python.util used as a 3.5 application uses it: /form/<action> runs
do_<action>.  Options that must not be form fields come in X-* headers."""
import hashlib
import io
import json
import os

from mod_python import apache, util


def handler(req):
    return globals()["do_" + req.uri.rsplit("/", 1)[1]](req)


def out(req, obj):
    req.content_type = "application/json"
    req.write(json.dumps(obj))
    return apache.OK


def opt(req, name, default="0"):
    return req.headers_in.get(name, default)


def memory():
    """(VmHWM, VmRSS) of this process, bytes."""
    got = {}
    with open("/proc/self/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmHWM", "VmRSS"):
                got[k] = int(v.split()[0]) * 1024
    return got["VmHWM"], got["VmRSS"]


def digest(f):
    """sha256 and size of a file, read in blocks from its start."""
    f.seek(0)
    h, n = hashlib.sha256(), 0
    while True:
        block = f.read(1 << 16)
        if not block:
            break
        h.update(block)
        n += len(block)
    f.seek(0)
    return h.hexdigest(), n


def describe(field):
    d = {"name": field.name, "class": type(field).__name__,
         "filename": field.filename, "type": field.type,
         "type_options": field.type_options, "disposition": field.disposition,
         "disposition_options": field.disposition_options,
         "headers": {k: field.headers[k] for k in field.headers.keys()}}
    if isinstance(field, util.StringField):
        d["value"] = field.value
        d["is_str"] = isinstance(field, str) and field == field.value
    else:
        d["sha256"], d["size"] = digest(field.file)
    return d


def form(req, **kw):
    return util.FieldStorage(req, keep_blank_values=int(opt(req, "X-Keep-Blank")),
                             strict_parsing=int(opt(req, "X-Strict")), **kw)


def do_fields(req):
    fs = form(req)
    return out(req, [describe(f) for f in fs.list])


def do_value(req):
    """A file field's .value (bytes) against its file's content."""
    fs = form(req)
    f = fs.getfirst("file")
    value = f.value
    return out(req, {"bytes": isinstance(value, bytes),
                     "sha256": hashlib.sha256(value).hexdigest(),
                     "same": digest(f.file) == (hashlib.sha256(value).hexdigest(), len(value)),
                     "again": f.value == value})


class SmallReads:
    """The request, read `size` bytes at a time at most."""

    def __init__(self, req, size):
        self._req, self._size = req, size
        self.reads = 0

    def read(self, n=-1):
        self.reads += 1
        return self._req.read(self._size if n < 0 else min(n, self._size))

    def __getattr__(self, name):
        return getattr(self._req, name)


def do_small_reads(req):
    small = SmallReads(req, int(opt(req, "X-Read-Size", "1")))
    fs = util.FieldStorage(small)
    return out(req, {"reads": small.reads, "fields": [describe(f) for f in fs.list]})


def do_upload_memory(req):
    """Parse the body (a large upload) and say how much this process grew."""
    hwm0, rss0 = memory()
    fs = util.FieldStorage(req)
    hwm1, rss1 = memory()
    return out(req, {"hwm_before": hwm0, "hwm_after": hwm1, "rss_before": rss0,
                     "rss_after": rss1, "fields": [describe(f) for f in fs.list]})


def do_memory(req):
    return out(req, memory())


class Recorded(io.BytesIO):
    pass


def do_callbacks(req):
    where = req.get_options()["uploads"]
    calls = []

    def file_callback(filename):
        path = os.path.join(where, "%d-%s" % (os.getpid(), os.path.basename(filename)))
        calls.append(["file", filename])
        return open(path, "w+b")

    def field_callback():
        calls.append(["field"])
        return Recorded()

    fs = util.FieldStorage(req, file_callback=file_callback, field_callback=field_callback)
    fields = []
    for f in fs.list:
        d = describe(f)
        d["file_class"] = type(f.file).__name__
        if isinstance(f.file, io.BufferedRandom):
            d["path"] = f.file.name
            with open(f.file.name, "rb") as disk:
                d["on_disk"] = digest(disk)
        fields.append(d)
    return out(req, {"calls": calls, "fields": fields})


def do_mapping(req):
    """The mapping interface of 3.5's FieldStorage, on the query string
    a=1&a=2&b=3&c=&d=%C3%A9."""
    fs = util.FieldStorage(req, keep_blank_values=1)
    r = {}
    r["a"] = fs["a"]
    r["a_is_list"] = isinstance(fs["a"], list)
    r["b"] = fs["b"]
    r["b_class"] = type(fs["b"]).__name__
    r["b_name"] = fs["b"].name
    r["b_file"] = fs["b"].file.read().decode()
    r["d"] = fs["d"]
    r["getfirst_a"] = fs.getfirst("a")
    r["getfirst_none"] = fs.getfirst("zz")
    r["getfirst_default"] = fs.getfirst("zz", "dflt")
    r["getlist_a"] = fs.getlist("a")
    r["getlist_none"] = fs.getlist("zz")
    r["get_b"] = fs.get("b", "x")
    r["get_none"] = fs.get("zz", "dflt")
    r["has_key"] = [fs.has_key("a"), fs.has_key("zz")]
    r["in"] = ["c" in fs, "zz" in fs]
    r["keys"] = fs.keys()
    r["iter"] = list(fs)
    r["len"] = len(fs)
    r["items"] = [[k, v] for k, v in fs.items()]
    r["list"] = [[f.name, f.value] for f in fs.list]
    try:
        fs["zz"]
        r["missing"] = "no error"
    except KeyError:
        r["missing"] = "KeyError"
    fs.add_field("e", "5")
    r["after_add"] = fs["e"]
    fs["a"] = "one"
    r["after_set"] = [fs["a"], len(fs.getlist("a"))]
    del fs["b"]
    r["after_del"] = ["b" in fs, fs.keys()]
    fs.list.append(util.StringField("7"))
    fs.list[-1].name = "f"
    r["list_append"] = fs.getfirst("f")
    r["repr"] = repr(fs.getfirst("f"))
    fs.clear()
    r["after_clear"] = [len(fs), fs.keys()]
    return out(req, r)


def do_stringfield(req):
    s = util.StringField(b"h\xc3\xa9llo \xff")
    s.name = "greeting"
    f = util.Field("up", io.BytesIO(b"data"), "text/csv", {"charset": "x"},
                   "form-data", {"name": "up", "filename": "a.csv"}, {"X": "1"})
    return out(req, {"value": s.value, "str": s, "upper": s.upper(),
                     "file": s.file.read().hex(), "filename": s.filename,
                     "type": s.type, "repr": repr(s),
                     "field": [f.name, f.filename, f.type, f.type_options,
                               f.disposition, f.value.decode(), repr(f)],
                     "empty_field_value": util.Field("x").value})


def plain(a, b=None):
    return ["plain", a, b]


def takes_kw(a, **kw):
    return ["kw", a, sorted(kw)]


def kwonly(a, *, b="B"):
    return ["kwonly", a, b]


class Page:
    def __init__(self, a, req=None):
        self.got = ["class", a, req is not None]

    def method(self, b):
        return ["method", b]

    def __call__(self, a):
        return ["call", a]


def do_apply(req):
    fs = util.FieldStorage(req)
    page = Page("x")
    files = util.apply_fs_data(lambda up=None, a=None: [type(up).__name__,
                                                         up.filename if up else None], fs)
    return out(req, {
        "plain": util.apply_fs_data(plain, fs),
        "req": util.apply_fs_data(lambda a, req: [a, req.uri], fs, req=req),
        "kw": util.apply_fs_data(takes_kw, fs, req=req),
        "kwonly": util.apply_fs_data(kwonly, fs),
        "class": util.apply_fs_data(Page, fs, req=req).got,
        "method": util.apply_fs_data(page.method, fs),
        "callable": util.apply_fs_data(page, fs),
        "builtin": util.apply_fs_data(list, fs),
        "file": files,
    })


def do_redirect(req):
    text = req.headers_in.get("X-Text")
    util.redirect(req, req.headers_in["X-Location"],
                  permanent=int(opt(req, "X-Permanent")), text=text)
    req.write("not reached")
    return apache.OK


def do_redirect_late(req):
    req.content_type = "text/plain"
    req.write("started;")
    try:
        util.redirect(req, "/elsewhere")
    except IOError as e:
        req.write("IOError: %s" % e)
    return apache.OK


def do_redirect_type(req):
    try:
        util.redirect(req, b"/bytes")
    except TypeError:
        return out(req, "TypeError")
    return out(req, "no error")


def do_parse_header(req):
    line = req.read()
    key, opts = util.parse_header(line)
    skey, sopts = util.parse_header(line.decode("utf-8", "surrogateescape"))
    return out(req, {"key": key, "options": opts, "same": [key, opts] == [skey, sopts]})


def do_qs(req):
    """util.parse_qs / parse_qsl are _apache's."""
    import _apache
    return out(req, {"same": [util.parse_qs is _apache.parse_qs,
                              util.parse_qsl is _apache.parse_qsl],
                     "qs": util.parse_qs(req.args, 1),
                     "qsl": util.parse_qsl(req.args)})
