"""PythonHandlerModule phases: a function per phase it cares about; the
phases it has none for are skipped silently."""
from mod_python import apache


def fixuphandler(req):
    req.notes["fixup"] = "ran"
    return apache.OK


def accesshandler(req):
    if req.args == "deny":
        return apache.HTTP_FORBIDDEN
    return apache.OK


def handler(req):
    req.content_type = "text/plain"
    req.write("handler after fixup=%s silent=%s" % (req.notes.get("fixup"), req.hlist.silent))
    return apache.OK
