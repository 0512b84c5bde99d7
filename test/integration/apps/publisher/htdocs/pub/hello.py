"""Objects published from /pub/hello.py/..., one for each rule."""
import json
import hashlib
import os                                  # a module: never published
from os import getcwd                      # a built-in function: refused

from mod_python import apache


def index(req):
    return "hello index"


def say(req, what="hi"):
    return "say %s" % what


def echo(req, a, b="B", *, c="C"):
    return json.dumps({"a": a, "b": b, "c": c})


def needs(req, required):
    return "got %s" % required


def kw(req, **fields):
    return json.dumps(sorted(fields.items()))


def noreq(a="1"):
    return "noreq %s" % a


def posonly(req, /):
    return "never: req is positional-only, so not passed by name"


def nothing_taken():
    return "nothing taken"


def form(req):
    return json.dumps({"form": sorted(req.form.keys()), "method": req.method,
                       "filename": req.filename, "path_info": req.path_info})


def upload(req, file, note=""):
    data = file.value
    return json.dumps({"filename": file.filename, "size": len(data),
                       "sha256": hashlib.sha256(data).hexdigest(),
                       "type": file.type, "note": note,
                       "same_as_form": req.form["file"].filename == file.filename})


# ------------------------------------------------------------ return values

def html(req):
    return "<html><body>page</body></HTML >\n"


def html_early(req):
    # </html> not in the last 100 characters: not taken for HTML
    return "<html></html>" + "x" * 120


def raw(req):
    return b"\x00\xffbytes</html>"


def number(req):
    return 42


def listing(req):
    return [1, "two"]


def nothing(req):
    return None


def wrote(req):
    req.write("written by hand")


def empty(req):
    return ""


def typed(req):
    req.content_type = "application/json"
    return json.dumps({"typed": True})


def latin(req):
    req.content_type = "text/plain; charset=iso-8859-1"
    return "caf\u00e9"


def utf8(req):
    return "caf\u00e9 \u2603"


def generator(req):
    yield "x"


def twice(req):
    return say                             # a callable: called in turn


def status(req):
    req.status = apache.HTTP_CREATED
    return "created"


def boom(req):
    raise ValueError("boom from a published function")


version = "1.0"                            # a published value


# -------------------------------------------------------------- traversal

class Klass:
    """A class: neither traversed nor published."""

    def method(self, req):
        return "class method"


class Meta(type):
    pass


class WithMeta(metaclass=Meta):
    pass


class Page:
    title = "a title"
    _secret = "secret"

    def method(self, req, n="0"):
        return "page method n=%s" % n

    def __call__(self, req):
        return "page called"

    class Inner:
        pass


class Tree:
    def __init__(self):
        self.page = Page()
        self.items = ["a", "b"]


obj = Page()
tree = Tree()
_private = "private"


def func_with_attr(req):
    return "func"


func_with_attr.attr = "an attribute"
