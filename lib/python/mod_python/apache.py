"""mod_python.apache: the API handlers use.

Most of it is implemented in C (the `_apache` module, one per interpreter);
this file re-exports it and holds the constants mod_python 3.5 defined.
"""
import sys
import syslog

import _apache
from _apache import (log_error, mpm_query, exists_config_define, server_root,
                     table, import_module, freeze_modules, module_cache,
                     module_tree, AP_CONN_UNKNOWN, AP_CONN_CLOSE,
                     AP_CONN_KEEPALIVE, MODULE_MAGIC_NUMBER_MAJOR,
                     MODULE_MAGIC_NUMBER_MINOR)

make_table = table

# Set by mod_python when the interpreter is created.
interpreter = None
# "own" when this interpreter has its own GIL (PythonInterpreterGIL), else "shared".
interpreter_gil = None
main_server = None


class SERVER_RETURN(Exception):
    """Raise SERVER_RETURN(code) or SERVER_RETURN((code, status)) to end a
    handler with that result."""


# 3.5 code catches _apache.SERVER_RETURN too.
_apache.SERVER_RETURN = SERVER_RETURN


def resolve_object(module, obj_str, arg=None, silent=0):
    """Follow the dotted names of obj_str from module, as handlers are
    found: a class met on the way is instantiated with arg first
    ("Class.method" gives Class(arg).method).  silent: None instead of
    AttributeError for a missing name."""
    obj = module
    for name in obj_str.split("."):
        parent = obj
        if not hasattr(obj, name):
            if silent:
                return None
            if obj is module and hasattr(module, "__file__"):
                raise AttributeError("module '%s' contains no '%s'" % (module.__file__, name))
        obj = getattr(obj, name)
        if isinstance(parent, type):
            obj = getattr(parent(arg), name)
    return obj


def module_mtime(module):
    """The modification time of a module's file, 0 when it has none."""
    import os
    try:
        return os.path.getmtime(module.__file__)
    except (AttributeError, TypeError, OSError):
        return 0


def _call_under_pdb(obj, arg):
    """PythonEnablePdb On with httpd -X: run obj(arg) under pdb, on httpd's
    terminal.  Tracing is set around the call (not pdb.runcall(), which
    would turn a "quit" into a None result): quitting raises BdbQuit, a
    handler error like any other."""
    import pdb
    debugger = pdb.Pdb()
    debugger.reset()
    sys.settrace(debugger.trace_dispatch)
    try:
        return obj(arg)
    finally:
        debugger.quitting = True
        sys.settrace(None)


def mpm_name():
    """The MPM httpd runs: 'prefork', 'worker' or 'event'."""
    return _apache.mpm_name()


def register_cleanup(callback, data=None):
    """Call callback(data) in this interpreter when this child process
    exits (an exception is logged)."""
    _apache.register_cleanup(interpreter, main_server, callback, data)


# Handler results
OK = REQ_PROCEED = 0
DONE = -2
DECLINED = REQ_NOACTION = -1

# Log levels
APLOG_EMERG = syslog.LOG_EMERG
APLOG_ALERT = syslog.LOG_ALERT
APLOG_CRIT = syslog.LOG_CRIT
APLOG_ERR = syslog.LOG_ERR
APLOG_WARNING = syslog.LOG_WARNING
APLOG_NOTICE = syslog.LOG_NOTICE
APLOG_INFO = syslog.LOG_INFO
APLOG_DEBUG = syslog.LOG_DEBUG
APLOG_NOERRNO = 0

HTTP_CONTINUE = 100
HTTP_SWITCHING_PROTOCOLS = 101
HTTP_PROCESSING = 102
HTTP_OK = 200
HTTP_CREATED = 201
HTTP_ACCEPTED = 202
HTTP_NON_AUTHORITATIVE = 203
HTTP_NO_CONTENT = 204
HTTP_RESET_CONTENT = 205
HTTP_PARTIAL_CONTENT = 206
HTTP_MULTI_STATUS = 207
HTTP_MULTIPLE_CHOICES = 300
HTTP_MOVED_PERMANENTLY = 301
HTTP_MOVED_TEMPORARILY = 302
HTTP_SEE_OTHER = 303
HTTP_NOT_MODIFIED = 304
HTTP_USE_PROXY = 305
HTTP_TEMPORARY_REDIRECT = 307
HTTP_PERMANENT_REDIRECT = 308
HTTP_BAD_REQUEST = 400
HTTP_UNAUTHORIZED = 401
HTTP_PAYMENT_REQUIRED = 402
HTTP_FORBIDDEN = 403
HTTP_NOT_FOUND = 404
HTTP_METHOD_NOT_ALLOWED = 405
HTTP_NOT_ACCEPTABLE = 406
HTTP_PROXY_AUTHENTICATION_REQUIRED = 407
HTTP_REQUEST_TIME_OUT = 408
HTTP_CONFLICT = 409
HTTP_GONE = 410
HTTP_LENGTH_REQUIRED = 411
HTTP_PRECONDITION_FAILED = 412
HTTP_REQUEST_ENTITY_TOO_LARGE = 413
HTTP_REQUEST_URI_TOO_LARGE = 414
HTTP_UNSUPPORTED_MEDIA_TYPE = 415
HTTP_RANGE_NOT_SATISFIABLE = 416
HTTP_EXPECTATION_FAILED = 417
HTTP_IM_A_TEAPOT = 418
HTTP_UNPROCESSABLE_ENTITY = 422
HTTP_LOCKED = 423
HTTP_FAILED_DEPENDENCY = 424
HTTP_UPGRADE_REQUIRED = 426
HTTP_INTERNAL_SERVER_ERROR = 500
HTTP_NOT_IMPLEMENTED = 501
HTTP_BAD_GATEWAY = 502
HTTP_SERVICE_UNAVAILABLE = 503
HTTP_GATEWAY_TIME_OUT = 504
HTTP_VERSION_NOT_SUPPORTED = 505
HTTP_VARIANT_ALSO_VARIES = 506
HTTP_INSUFFICIENT_STORAGE = 507
HTTP_NOT_EXTENDED = 510

# ap_mpm_query() codes
AP_MPMQ_NOT_SUPPORTED = 0
AP_MPMQ_STATIC = 1
AP_MPMQ_DYNAMIC = 2
AP_MPMQ_MAX_DAEMON_USED = 1
AP_MPMQ_IS_THREADED = 2
AP_MPMQ_IS_FORKED = 3
AP_MPMQ_HARD_LIMIT_DAEMONS = 4
AP_MPMQ_HARD_LIMIT_THREADS = 5
AP_MPMQ_MAX_THREADS = 6
AP_MPMQ_MIN_SPARE_DAEMONS = 7
AP_MPMQ_MIN_SPARE_THREADS = 8
AP_MPMQ_MAX_SPARE_DAEMONS = 9
AP_MPMQ_MAX_SPARE_THREADS = 10
AP_MPMQ_MAX_REQUESTS_DAEMON = 11
AP_MPMQ_MAX_DAEMONS = 12
AP_MPMQ_MPM_STATE = 13
AP_MPMQ_IS_ASYNC = 14
AP_MPMQ_GENERATION = 15
AP_MPMQ_HAS_SERIAL = 16

# req.get_remote_host() types
REMOTE_HOST = 0
REMOTE_NAME = 1
REMOTE_NOLOOKUP = 2
REMOTE_DOUBLE_REV = 3

# req.parsed_uri indexes
URI_SCHEME, URI_HOSTINFO, URI_USER, URI_PASSWORD, URI_HOSTNAME, URI_PORT, \
    URI_PATH, URI_QUERY, URI_FRAGMENT = range(9)

# req.proxyreq
PROXYREQ_NONE = 0
PROXYREQ_PROXY = 1
PROXYREQ_REVERSE = 2
PROXYREQ_RESPONSE = 3

# method numbers
M_GET, M_PUT, M_POST, M_DELETE, M_CONNECT, M_OPTIONS, M_TRACE, M_PATCH, \
    M_PROPFIND, M_PROPPATCH, M_MKCOL, M_COPY, M_MOVE, M_LOCK, M_UNLOCK, \
    M_VERSION_CONTROL, M_CHECKOUT, M_UNCHECKOUT, M_CHECKIN, M_UPDATE, \
    M_LABEL, M_REPORT, M_MKWORKSPACE, M_MKACTIVITY, M_BASELINE_CONTROL, \
    M_MERGE, M_INVALID = range(27)

CGI_MAGIC_TYPE = "application/x-httpd-cgi"
INCLUDES_MAGIC_TYPE = "text/x-server-parsed-html"
INCLUDES_MAGIC_TYPE3 = "text/x-server-parsed-html3"
DIR_MAGIC_TYPE = "httpd/unix-directory"

REQUEST_NO_BODY = 0
REQUEST_CHUNKED_ERROR = 1
REQUEST_CHUNKED_DECHUNK = 2

# Files (req.finfo, stat()), the parsed configuration, as in 3.5: the file
# type (APR_NOFILE..APR_UNKFILE), stat()'s masks (APR_FINFO_*), the indexes
# into an mp_finfo (FINFO_*) and req.used_path_info's AP_REQ_*_PATH_INFO
# come from _apache, which takes them from APR's and httpd's headers.
from _apache import stat, config_tree
for _name in dir(_apache):
    if _name.startswith(("APR_", "FINFO_", "AP_REQ_")):
        globals()[_name] = getattr(_apache, _name)
del _name

# legacy results of mod_python 2
REQ_ABORTED = HTTP_INTERNAL_SERVER_ERROR
REQ_EXIT = "REQ_EXIT"


# ------------------------------------------------------------ CGI emulation
# What mod_python.cgihandler uses to run a CGI script inside httpd: the
# request as the script's stdin, stdout and environment (3.5's names).

def build_cgi_env(req):
    """The CGI/1.1 environment of req as a dict (httpd's CGI variables,
    plus HTTP_AUTHORIZATION as 3.5 gave it)."""
    req.add_cgi_vars()
    env = dict(req.subprocess_env.items())
    if req.path_info:
        env["SCRIPT_NAME"] = req.uri[:-len(req.path_info)]
    else:
        env["SCRIPT_NAME"] = req.uri
    env["GATEWAY_INTERFACE"] = "Python-CGI/1.1"
    if "authorization" in req.headers_in:
        env["HTTP_AUTHORIZATION"] = req.headers_in.get("authorization")
    return env


class NullIO(object):
    """A file that is always empty and swallows what is written."""
    encoding = "utf-8"
    errors = "surrogateescape"

    def tell(self): return 0
    def read(self, n=-1): return ""
    def readline(self, length=-1): return ""
    def readlines(self, hint=-1): return []
    def write(self, s): return len(s)
    def writelines(self, lines):
        for line in lines:
            self.write(line)
    def isatty(self): return False
    def readable(self): return True
    def writable(self): return True
    def flush(self): pass
    def close(self): pass
    def detach(self): pass
    def seek(self, pos, mode=0): pass
    def fileno(self):
        import io
        raise io.UnsupportedOperation("fileno")
    def __iter__(self):
        return iter(self.readline, "")


class _BodyReader(NullIO):
    """The request body as bytes (CGIStdin.buffer), read in blocks."""
    def __init__(self, req):
        self.req = req
        self.pos = 0

    def tell(self): return self.pos

    def read(self, n=-1):
        data = self.req.read(n) if n is not None and n >= 0 else self.req.read()
        self.pos += len(data)
        return data

    def readline(self, n=-1):
        data = self.req.readline(n) if n is not None and n >= 0 else self.req.readline()
        self.pos += len(data)
        return data

    def readlines(self, hint=-1):
        return self.req.readlines(hint)

    def __iter__(self):
        return iter(self.readline, b"")


class CGIStdin(NullIO):
    """sys.stdin of a CGI script: the request body, as text (UTF-8 with
    surrogateescape: the bytes come back unchanged when encoded the same
    way), or as bytes through .buffer, as cgi.FieldStorage reads it."""
    def __init__(self, req):
        self.req = req
        self.buffer = _BodyReader(req)

    def tell(self): return self.buffer.pos

    def _text(self, data):
        return data.decode(self.encoding, self.errors)

    def read(self, n=-1):
        return self._text(self.buffer.read(n))

    def readline(self, n=-1):
        return self._text(self.buffer.readline(n))

    def readlines(self, hint=-1):
        return [self._text(line) for line in self.buffer.readlines(hint)]


class _ResponseWriter(NullIO):
    """CGIStdout.buffer: bytes written by the script."""
    def __init__(self, out):
        self.out = out

    def write(self, b):
        self.out._take(bytes(b))
        return len(b)

    def flush(self):
        self.out.flush()


class CGIStdout(NullIO):
    """sys.stdout of a CGI script: the CGI response.  The header lines come
    first, up to an empty line (CRLF or LF): "Status: 404 Not Found" sets
    req.status, "Location" a redirect as httpd's CGI does, Content-Type
    req.content_type, others go to headers_out; the rest is the body."""
    def __init__(self, req):
        self.req = req
        self.pos = 0
        self.headers_sent = False
        self._head = b""
        self.buffer = _ResponseWriter(self)

    def tell(self): return self.pos

    def write(self, s):
        self._take(s.encode(self.encoding, self.errors) if isinstance(s, str) else bytes(s))
        return len(s)

    def flush(self):
        if self.headers_sent:
            self.req.flush()

    def _take(self, data):
        self.pos += len(data)
        if self.headers_sent:
            if data:
                self.req.write(data, 0)
            return
        self._head += data
        for sep in (b"\r\n\r\n", b"\n\n"):
            end = self._head.find(sep)
            if end >= 0:
                head, body = self._head[:end], self._head[end + len(sep):]
                self._head = b""
                self._headers(head.decode(self.encoding, self.errors))
                self.headers_sent = True
                if body:
                    self.req.write(body, 0)
                return

    def _headers(self, head):
        for line in head.replace("\r\n", "\n").split("\n"):
            if not line.strip():
                continue
            if ":" not in line:
                raise ValueError("CGI script wrote a header line without ':': %r" % line)
            name, value = line.split(":", 1)
            name, value = name.strip(), value.strip()
            low = name.lower()
            if low == "status":
                self.req.status = int(value.split()[0])
            elif low == "content-type":
                self.req.content_type = value
            elif low == "location" and self.req.status == 200:
                self.req.headers_out[name] = value
                self.req.status = HTTP_MOVED_TEMPORARILY
            else:
                self.req.headers_out.add(name, value)

    def close_response(self):
        """The script ended: a response that never ended its headers is
        all header (3.5 dropped it)."""
        if not self.headers_sent and self._head:
            head, self._head = self._head, b""
            self._headers(head.decode(self.encoding, self.errors))
            self.headers_sent = True


def setup_cgi(req):
    """Make sys.stdin, sys.stdout and os.environ the request's, for a CGI
    script; returns what restore_nocgi() puts back.  os.environ becomes a
    plain dict of this interpreter's os module: the process environment
    (shared by every thread and interpreter, read by C code with getenv())
    is never changed."""
    import os
    saved = (os.environ, sys.stdin, sys.stdout, sys.argv)
    os.environ = build_cgi_env(req)
    sys.stdin = CGIStdin(req)
    sys.stdout = CGIStdout(req)
    sys.argv = [req.filename or ""]
    return saved


def restore_nocgi(*saved):
    """Undo setup_cgi(); takes what it returned (as one tuple, or as 3.5's
    three values env, stdin, stdout)."""
    import os
    if len(saved) == 1:
        saved = saved[0]
    env, si, so = saved[:3]
    os.environ = env
    sys.stdin, sys.stdout = si, so
    if len(saved) > 3:
        sys.argv = saved[3]
