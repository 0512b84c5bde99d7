"""The PSP class and mod_python._psp used from a handler, as 3.5
applications do: /api/<name> runs do_<name>(req)."""
import json
import os

from mod_python import apache, psp, _psp

HERE = os.path.dirname(os.path.abspath(__file__))


def do_parse(req):
    """POST a JSON list of templates: [[True, source] or [False, error]]."""
    out = []
    for text in json.loads(req.read()):
        try:
            out.append([True, _psp.parsestring(text)])
        except Exception as e:
            out.append([False, "%s: %s" % (type(e).__name__, e)])
    return out


def do_parsefile(req):
    """?name: psp.parse(name, dir) of the psp/ directory, with its includes."""
    includes = []
    source = _psp.parse(req.args, os.path.join(HERE, "..", "psp"), includes)
    return {"source": source, "includes": [os.path.normpath(p) for p in includes],
            "same": psp.parse(req.args, os.path.join(HERE, "..", "psp") + "/") == source}


def do_string(req):
    page = psp.PSP(req, string="Hi <%= who %> <%= extra %>|", vars={"who": "you", "extra": 1})
    page.run()
    page.run(vars={"who": "them"})
    psp.PSP(req, string=b"bytes <%= 2 * 3 %>|").run()


def do_file(req):
    psp.PSP(req, "tmpl.psp", vars={"who": "file"}).run({"extra": "run"}, flush=1)


def do_str(req):
    req.write(str(psp.PSP(req, os.path.join(HERE, "tmpl.psp"), vars={"who": "s", "extra": 0})))


def do_both(req):
    try:
        psp.PSP(req, filename="tmpl.psp", string="x")
    except ValueError as e:
        return {"error": str(e)}


def do_missing(req):
    psp.PSP(req, "nope.psp")


def do_display(req):
    psp.PSP(req, "tmpl.psp").display_code()


def do_deep(req):
    try:
        _psp.parse("self.psp", HERE)
    except ValueError as e:
        return {"error": str(e)}


def handler(req):
    name = os.path.basename(req.filename)
    result = globals()["do_" + name](req)
    if result is not None:
        req.content_type = "application/json"
        req.write(json.dumps(result))
    return apache.OK
