"""mod_python.testhandler: a page showing how a request reached Python.

    <Location /mpinfo>
        SetHandler mod_python
        PythonHandler mod_python.testhandler
    </Location>

The page (as mod_python 3.5's) shows the server (httpd version, MPM,
roots, error log), Python (version, sys.path, interpreter), the request,
its form fields (util.FieldStorage), input headers, environment
(subprocess_env with the common CGI variables), configuration, options
and notes, the server's configuration and options, and httpd's parsed
configuration tree (apache.config_tree()).  `?view_log=1` gives the last
100 lines of the error log as text/plain.

Every value is HTML-escaped (3.5 wrote them raw).  The page shows the
configuration, environment and error log to whoever asks: for setting a
server up, never on a public one.
"""
import html
import os
import sys

import mod_python.version
from mod_python import apache, util

LOG_LINES = 100
_BLOCK = 65536


def _esc(value):
    return html.escape(str(value), quote=True)


def _row(label, value, pre=False, extra=""):
    """A table row: the label, then the value (escaped), then `extra`
    (HTML the caller made)."""
    tag = "pre" if pre else "code"
    return "<tr><td><code>%s</code></td><td><%s>%s</%s>%s</td></tr>\n" % (
        _esc(label), tag, _esc(value), tag, extra)


def _table(title, pairs, head=("Key", "Value")):
    out = ['<h3>%s</h3>\n<table border="1">\n' % _esc(title),
           "<tr><th>%s</th><th>%s</th></tr>\n" % (_esc(head[0]), _esc(head[1]))]
    out += [_row(k, v) for k, v in pairs]
    out.append("</table>\n")
    return "".join(out)


def _error_log(req):
    """The error log's path, or None when it is not a file (syslog, a
    pipe, none)."""
    name = req.server.error_fname
    if not name or name.startswith(("|", "syslog")):
        return None
    return os.path.join(apache.server_root(), name)


def _tail(path, count):
    """The last `count` lines of a file, as bytes, reading only the end
    of it (an error log can be large)."""
    with open(path, "rb") as f:
        end = f.seek(0, os.SEEK_END)
        data, pos = b"", end
        while pos > 0 and data.count(b"\n") <= count:
            step = min(_BLOCK, pos)
            pos -= step
            f.seek(pos)
            data = f.read(step) + data
    lines = data.splitlines(keepends=True)
    return b"".join(lines[-count:])


def _mpm(threaded_or_forked, limit, yes, no):
    if not apache.mpm_query(threaded_or_forked):
        return no
    return yes % apache.mpm_query(limit)


def _available(name):
    try:
        __import__("mod_python." + name)
    except Exception:
        return "No"
    return "Yes"


def _general(req):
    log = _error_log(req)
    log_extra = ' (<a href="?view_log=1" target="_new">view last %d lines</a>)' % LOG_LINES
    rows = [
        _row("mod_python version", mod_python.version.version),
        _row("Apache version", req.subprocess_env.get("SERVER_SOFTWARE")),
        _row("Apache threaded MPM", _mpm(apache.AP_MPMQ_IS_THREADED, apache.AP_MPMQ_MAX_THREADS,
                                         "Yes, maximum %i threads / process",
                                         "No (single thread MPM)")),
        _row("Apache forked MPM", _mpm(apache.AP_MPMQ_IS_FORKED, apache.AP_MPMQ_MAX_DAEMONS,
                                       "Yes, maximum %i processes",
                                       "No (single process MPM)")),
        _row("Apache server root", apache.server_root()),
        _row("Apache document root", req.document_root()),
        _row("Apache error log", log, extra=log_extra if log else ""),
        _row("Python sys.version", sys.version),
        _row("Python sys.path", "\n".join(sys.path), pre=True),
        _row("Python interpreter name", req.interpreter),
        _row("mod_python.publisher available", _available("publisher")),
        _row("mod_python.psp available", _available("psp")),
    ]
    return '<h3>General information</h3>\n<table border="1">\n%s</table>\n' % "".join(rows)


def _request(req):
    conn = req.connection
    return [(name, getattr(req, name)) for name in (
        "the_request", "method", "protocol", "hostname", "uri", "unparsed_uri",
        "args", "path_info", "filename", "handler", "user", "ap_auth_type")] + [
        ("connection.client_ip", conn.client_ip),
        ("connection.local_ip", conn.local_ip),
        ("server.server_hostname", req.server.server_hostname),
        ("server.port", req.server.port)]


def _form(form):
    """(name, value) per field, in order; an upload as its file name and
    type, not its content."""
    out = []
    for field in form.list:
        if field.filename is not None:
            out.append((field.name, "file %r (%s)" % (field.filename, field.type)))
        else:
            out.append((field.name, field.value))
    return out


def _tree(tree, level=0):
    """httpd's configuration tree as indented lines (4 spaces a level)."""
    lines = []
    for entry in tree:
        if isinstance(entry, list):
            lines += _tree(entry, level + 1)
        else:
            lines.append("    " * level + " ".join(entry))
    return lines


def _view_log(req):
    """The error log's tail; 404 when the log is not a file this process
    can read (syslog, a pipe, a file only root reads)."""
    path = _error_log(req)
    try:
        tail = _tail(path, LOG_LINES) if path else None
    except OSError:
        tail = None
    if tail is None:
        return apache.HTTP_NOT_FOUND
    req.content_type = "text/plain"
    req.write(tail)
    return apache.OK


def handler(req):
    form = util.FieldStorage(req)
    req.form = form   # as 3.5 left it, for a later phase that looks
    if form.getfirst("view_log"):
        return _view_log(req)

    req.add_common_vars()
    server = req.server
    page = [
        "<html><head><title>mod_python test page</title></head><body>\n",
        _general(req),
        _table("Request", _request(req)),
        _table("Form fields", _form(form), head=("Name", "Value")),
        _table("Request input headers", req.headers_in.items()),
        _table("Request environment", req.subprocess_env.items()),
        _table("Request configuration", req.get_config().items()),
        _table("Request options", req.get_options().items()),
        _table("Request notes", req.notes.items()),
        _table("Server configuration", server.get_config().items()),
        _table("Server options", server.get_options().items()),
        "<h3>Server configuration tree</h3>\n<pre>",
        "".join(_esc(line) + "\n" for line in _tree(apache.config_tree())),
        "</pre>\n</body></html>",
    ]
    req.content_type = "text/html; charset=utf-8"
    req.write("".join(page))
    return apache.OK
