"""mod_python.wsgi: run a WSGI application (PEP 3333) as a mod_python
content handler, as mod_python 3.5's mod_python.wsgi did:

    <Location /app>
        SetHandler mod_python
        PythonHandler mod_python.wsgi
        PythonOption mod_python.wsgi.application /srv/app/site.py::application
    </Location>

`mod_python.wsgi.application` is `MODULE::CALLABLE` (CALLABLE defaults to
`application`).  MODULE is found the way handler modules are:

  * a file: an absolute path, or `~/file.py` (relative to the <Directory>
    of the PythonHandler), loaded by mod_python's importer: editing it, or
    a module it imports beside it (`import views`), reloads it on the next
    request (PythonAutoReload, default On);
  * a plain name: `NAME.py` in the PythonHandler's <Directory> or on
    `mod_python.importer.path`, loaded by the importer as above; else
  * a name on sys.path (plain or dotted, `mysite.wsgi`): Python's standard
    import, as 3.5 did.  Not reloaded, unless:

`PythonOption mod_python.wsgi.reload On` is for applications that are
packages on sys.path (Django projects, Flask packages), which the importer
leaves to Python.  The application (MODULE must then be a name on sys.path)
is imported with the standard import, and mod_python.wsgi keeps the list of
modules it brought into sys.modules, while loading and while serving.  Before
each request it checks the files of those of them that are the
application's own (outside Python's installation: stdlib, site- and
dist-packages); when one changed, it holds new requests of the application,
waits for the running ones to finish (in this process), removes the
application's modules from sys.modules and imports it again: the project,
and the pure-Python libraries it brought in (so Django's app registry, its
URL resolver and settings start afresh, as after a restart).  Packages with
a C extension, the standard library and what was imported before the
application stay loaded (an extension module cannot be loaded twice).  One
application with reload per interpreter (PythonInterpreter): modules are
attributed to the application that was loading or serving when they
appeared.  PythonAutoReload Off and apache.freeze_modules() turn the checks
off.

The environ is req.build_wsgi_env() (SCRIPT_NAME from
`mod_python.wsgi.base_uri` or the <Location>; a URI outside the base is
declined, as in 3.5), with `wsgi.errors` writing lines to the error log,
`wsgi.file_wrapper` (a real file is sent with req.sendfile()) and
`wsgi.input_terminated` (a chunked request body can be read to its end).  The
response's iterable is written as it comes (each block of a generator is
sent before the next is asked for; a list is sent at the end), and its
close() is always called.  A client that goes away ends the iteration (a
line at APLOG_INFO), not as an error.  An exception is a 500 with the
traceback in the error log (and to the client with PythonDebug On).
"""
import os
import sys
import sysconfig
import threading
import time
import gc
import importlib
import importlib.machinery
import logging
import weakref

import _apache
from mod_python import apache

APP_OPTION = "mod_python.wsgi.application"
RELOAD_OPTION = "mod_python.wsgi.reload"
BASE_OPTION = "mod_python.wsgi.base_uri"

# Log ids (src/base/mp_logno.h).
LOG_NO_OPTION = "MP00070: "
LOG_NO_CALLABLE = "MP00071: "
LOG_OUTSIDE_BASE = "MP00072: "
LOG_RELOAD = "MP00073: "
LOG_BAD_OPTION = "MP00074: "
LOG_ABORTED = "MP00075: "


class ErrorLog:
    """wsgi.errors: a text stream whose lines go to httpd's error log (at
    APLOG_ERR, with the request's client), not to sys.stderr.  A line is
    logged when its newline is written, or on flush()."""

    __slots__ = ("_req", "_pending")

    def __init__(self, req):
        self._req = req
        self._pending = ""

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError("wsgi.errors takes str, not %s" % type(s).__name__)
        if "\n" not in s:
            self._pending += s
            return len(s)
        lines = (self._pending + s).split("\n")
        self._pending = lines.pop()
        for line in lines:
            self._log(line)
        return len(s)

    def writelines(self, lines):
        for s in lines:
            self.write(s)

    def flush(self):
        if self._pending:
            line, self._pending = self._pending, ""
            self._log(line)

    def _log(self, line):
        try:
            self._req.log_error(line, apache.APLOG_ERR)
        except RuntimeError:
            # kept past its request: the server's log, without the client
            apache.log_error(line, apache.APLOG_ERR)


class FileWrapper:
    """wsgi.file_wrapper: iterates over blocks of a file-like object; the
    handler sends a real file (a binary file opened by absolute path) with
    req.sendfile() instead."""

    def __init__(self, filelike, blksize=8192):
        self.filelike = filelike
        self.blksize = blksize
        if hasattr(filelike, "close"):
            self.close = filelike.close

    def __iter__(self):
        return self

    def __next__(self):
        data = self.filelike.read(self.blksize)
        if data:
            return data
        raise StopIteration


def _sendfile(req, wrapper):
    """Send the wrapper's file with req.sendfile() if it is a real one:
    True when sent, False to iterate over it instead."""
    f = wrapper.filelike
    name = getattr(f, "name", None)
    if not isinstance(name, str) or not os.path.isabs(name) or "b" not in getattr(f, "mode", ""):
        return False
    try:
        st = os.fstat(f.fileno())
        by_name = os.stat(name)
        offset = f.tell()
    except (AttributeError, OSError, ValueError):
        return False
    if (st.st_dev, st.st_ino) != (by_name.st_dev, by_name.st_ino) or not os.path.isfile(name):
        return False
    length = max(st.st_size - offset, 0)
    declared = req.headers_out.get("Content-Length")
    if declared is None:
        req.set_content_length(length)
    else:
        length = min(length, int(declared))
    if length:
        req.sendfile(name, offset, length)
    return True


def _write_response(req, result):
    """Write the application's iterable: a list or tuple at the end of the
    request, each block of anything else at once (PEP 3333: no delay),
    except the block that completes a declared Content-Length."""
    write = req.write
    if type(result) in (list, tuple):
        for data in result:
            write(data, 0)
        return
    if type(result) is FileWrapper and _sendfile(req, result):
        return
    left = None
    for data in result:
        if not data:
            continue
        if left is None:
            left = req.clength if "Content-Length" in req.headers_out else -1
        if left >= 0:
            left -= len(data)
        write(data, left != 0)


def _call(req, app):
    env = req.build_wsgi_env()
    if env is None:
        # 3.5: the URI is not under mod_python.wsgi.base_uri; declined
        req.log_error(LOG_OUTSIDE_BASE + "mod_python.wsgi: %r is not under %s %r, declining"
                      % (req.uri, BASE_OPTION, req.get_options().get(BASE_OPTION)),
                      apache.APLOG_WARNING)
        return apache.DECLINED
    errors = env["wsgi.errors"] = ErrorLog(req)
    env["wsgi.file_wrapper"] = FileWrapper
    # httpd ends a chunked request body: read() gives b"" at its end
    env["wsgi.input_terminated"] = True
    result = None
    try:
        result = app(env, req.wsgi_start_response)
        try:
            _write_response(req, result)
        except OSError:
            if not req.connection.aborted:
                raise
            # the client went away: no server error; stop asking for more
            req.log_error(LOG_ABORTED + "mod_python.wsgi: the client closed the connection "
                          "during the response", apache.APLOG_INFO)
    finally:
        try:
            close = getattr(result, "close", None)
            if close is not None:
                close()
        finally:
            errors.flush()
    return apache.OK


# ------------------------------------------------------------ the option

class _Spec:
    """mod_python.wsgi.application parsed: the module part (as written),
    the callable's name, and how the module is found."""

    __slots__ = ("text", "module", "callable", "is_file", "is_plain")

    def __init__(self, text):
        module, sep, name = text.partition("::")
        module, name = module.strip(), name.strip() if sep else "application"
        if not module or not name:
            raise ValueError(LOG_BAD_OPTION + "PythonOption %s %r: expected module::callable"
                             % (APP_OPTION, text))
        self.text = text
        self.module = module
        self.callable = name
        self.is_file = module.startswith(("/", "~/", "./", "../"))
        self.is_plain = not self.is_file and "." not in module


_specs = {}
_dirs = {}


def _spec(text):
    s = _specs.get(text)
    if s is None:
        s = _specs[text] = _Spec(text)
    return s


def _search_path(req):
    """[the PythonHandler's <Directory>] for a plain name, as handler
    modules are searched; None in a <Location> (no directory)."""
    hl = req.hlist
    d = hl.directory
    if d is None or hl.is_location:
        return None
    p = _dirs.get(d)
    if p is None:
        p = _dirs[d] = [d]   # the same list each time: the importer's cache compares it
    return p


def _find_callable(req, spec, module):
    app = getattr(module, spec.callable, None)
    if app is None:
        req.log_error(LOG_NO_CALLABLE + "mod_python.wsgi: %s %r: %r has no %r, declining"
                      % (APP_OPTION, spec.text, spec.module, spec.callable),
                      apache.APLOG_WARNING)
    return app


def handler(req):
    options = req.get_options()
    text = options.get(APP_OPTION)
    if not text:
        raise LookupError(LOG_NO_OPTION + "mod_python.wsgi: PythonOption %s is not set"
                          % APP_OPTION)
    spec = _spec(text)
    reload = options.get(RELOAD_OPTION)
    if reload is not None and reload.lower() not in ("off", "0"):
        if reload.lower() not in ("on", "1"):
            raise ValueError(LOG_BAD_OPTION + "PythonOption %s %r: On or Off"
                             % (RELOAD_OPTION, reload))
        return _reloading(req, spec)
    module = apache.import_module(spec.module, None, None,
                                  _search_path(req) if spec.is_plain else None)
    app = _find_callable(req, spec, module)
    if app is None:
        return apache.DECLINED
    return _call(req, app)


# ------------------------------------------------------------ reload On

def _installed_dirs():
    """Python's library directories (the standard library, site- and
    dist-packages, the user's site): files there are not the
    application's own."""
    import site
    sc = sysconfig.get_paths()
    paths = {sc.get(k) for k in ("stdlib", "platstdlib", "purelib", "platlib")}
    for f in (site.getsitepackages, site.getusersitepackages):
        try:
            got = f()
        except Exception:
            continue
        paths.update([got] if isinstance(got, str) else got)
    out = set()
    for p in paths:
        if p and os.path.isabs(p):
            out.add(os.path.join(os.path.realpath(p), ""))
            out.add(os.path.join(os.path.normpath(p), ""))
    return tuple(sorted(out))


def _stdlib_dirs():
    paths = sysconfig.get_paths()
    out = set()
    for key in ("stdlib", "platstdlib"):
        p = paths.get(key)
        if p:
            out.add(os.path.join(os.path.realpath(p), ""))
            out.add(os.path.join(os.path.normpath(p), ""))
    return tuple(sorted(out))


_INSTALLED = _installed_dirs()
_STDLIB = _stdlib_dirs()
_PACKAGES = ("site-packages", "dist-packages")


def _module_file(m):
    f = getattr(m, "__file__", None)
    return f if isinstance(f, str) else None


_EXTENSIONS = tuple(importlib.machinery.EXTENSION_SUFFIXES)


def _is_extension(name, m):
    """A module Python cannot load twice: an extension module, or a
    built-in or frozen one.  (Modules without a file that are neither,
    namespace packages and modules made by code, are pure Python.)"""
    f = _module_file(m)
    if f is None:
        origin = getattr(getattr(m, "__spec__", None), "origin", None)
        return name in sys.builtin_module_names or origin in ("built-in", "frozen")
    return f.endswith(_EXTENSIONS)


def _in_stdlib(f):
    return f.startswith(_STDLIB) and not any(p in f.split(os.sep) for p in _PACKAGES)


# A signature that matches no file: the next check reloads.
_UNSURE = ()
# Kernel timestamps come from a clock that lags by up to a tick.
_TICK_NS = 20 * 1000 * 1000


def _signature(f, since=None):
    """What tells that file `f` changed, or None if it is gone.  With
    `since` (time.time_ns() before the import that read it): _UNSURE when
    the file changed after that, since its signature now may not be the
    version that was read."""
    try:
        st = os.stat(f)
    except OSError:
        return None
    if since is not None and max(st.st_mtime_ns, st.st_ctime_ns) >= since - _TICK_NS:
        return _UNSURE
    return (st.st_mtime_ns, st.st_size, st.st_ino, st.st_dev)


_THREAD_ATTRS = frozenset(vars(threading.Thread()))


def _forget(dropped):
    """Let go of what the standard library keeps for the dropped modules,
    which would keep their whole old code alive, generation after
    generation: per-thread storage set on Thread objects (asgiref's Local,
    which Django uses, stores there, in httpd's long-lived threads),
    weakref.finalize callbacks (Django's signals), logging handlers and
    filters."""
    def ours(obj):
        return getattr(type(obj), "__module__", None) in dropped

    def code_ours(f):
        return getattr(f, "__module__", None) in dropped or ours(getattr(f, "__self__", None))

    for t in threading.enumerate():
        for k, v in list(vars(t).items()):
            if k not in _THREAD_ATTRS and (ours(v) or isinstance(v, dict) and
                                           any(ours(x) for x in list(v.values()))):
                delattr(t, k)
    for f, info in list(getattr(weakref.finalize, "_registry", {}).items()):
        if code_ours(info.func) or any(ours(a) for a in info.args):
            f.detach()
    loggers = [logging.getLogger()] + [lg for lg in list(logging.Logger.manager.loggerDict.values())
                                       if isinstance(lg, logging.Logger)]
    for lg in loggers:
        for h in list(lg.handlers):
            if ours(h):
                lg.removeHandler(h)
        for f in list(lg.filters):
            if ours(f) or code_ours(f):
                lg.removeFilter(f)


class _Application:
    """An application with mod_python.wsgi.reload On, in one interpreter:
    its callable, the modules it brought into sys.modules, the signatures
    of its own files, and a readers-writer gate: requests run side by
    side, a reload runs alone."""

    def __init__(self, spec):
        self.spec = spec
        self.cond = threading.Condition(threading.Lock())
        self.running = 0        # requests inside the application
        self.reloading = False  # a reload waits or runs: new requests wait
        self.loaded = False     # imported (self.app None: no such callable)
        self.app = None
        self.generation = 0
        self.owned = set()      # names of the modules it brought in
        self.known = frozenset(sys.modules)
        self.known_len = len(sys.modules)
        self.watched = {}       # its own files: path -> signature
        self.inside = threading.local()

    # -- which modules are the application's

    def notice(self, since):
        """Take the modules that appeared in sys.modules since the last
        look as the application's; they were imported after `since`
        (time.time_ns()).  Called with self.cond held, or while loading
        (alone)."""
        now = list(sys.modules)
        new = set(now).difference(self.known)
        self.known = frozenset(now)
        self.known_len = len(now)
        for name in new:
            m = sys.modules.get(name)
            if m is None or name.startswith(("mod_python", "_apache")):
                continue
            self.owned.add(name)
            f = _module_file(m)
            if f and f.endswith(".py") and not f.startswith(_INSTALLED):
                self.watched.setdefault(f, _signature(f, since))

    def changed(self):
        """The first of its own files that changed since it was loaded, or
        None.  A file that is gone is no change (an editor saving it)."""
        for f, sig in list(self.watched.items()):
            now = _signature(f)
            if now is not None and now != sig:
                return f
        return None

    def droppable(self):
        """(names to remove from sys.modules for a reload, top-level
        packages kept for their extension modules): the modules it brought
        in, but for the standard library, and whole top-level packages that
        hold an extension module or were loaded before it."""
        keep, stdlib = set(), set()
        for name in self.owned:
            m = sys.modules.get(name)
            f = _module_file(m) if m is not None else None
            if m is not None and f and _in_stdlib(f):
                stdlib.add(name.partition(".")[0])
            elif m is not None and _is_extension(name, m):
                keep.add(name.partition(".")[0])
        tops = {n for n in self.owned if "." not in n} - keep - stdlib
        drop = [n for n in self.owned if n.partition(".")[0] in tops]
        return drop, sorted(keep.difference(stdlib).intersection(self.owned))

    # -- loading

    def load(self, req, why):
        """Remove the application's modules and import it again.  Runs
        alone (no request of the application is running).  After a
        failure the next request tries again."""
        since = time.time_ns()
        dropped, kept = self.droppable()
        for name in dropped:
            sys.modules.pop(name, None)
        _forget(frozenset(dropped))
        gc.collect()   # the generation before this one's, now free
        importlib.invalidate_caches()
        self.loaded = False
        self.app = None
        self.owned = set()
        self.watched = {}
        self.known = frozenset(sys.modules)
        self.known_len = len(sys.modules)
        self.generation += 1
        if why:
            req.log_error(LOG_RELOAD + "mod_python.wsgi (pid=%d, interpreter=%r): reloading "
                          "%r: %s changed; %d modules removed%s"
                          % (os.getpid(), req.interpreter, self.spec.text, why, len(dropped),
                             "; kept for their C extensions: " + ", ".join(kept)
                             if kept else ""),
                          apache.APLOG_NOTICE)
        try:
            module = importlib.import_module(self.spec.module)
            self.app = _find_callable(req, self.spec, module)
            self.loaded = True
        finally:
            self.notice(since)

    def enter(self, req, check):
        """Count this request in, reloading first if a file changed; the
        callable to run (None: not found)."""
        if getattr(self.inside, "depth", 0):
            # a request of this thread is inside already (internal
            # redirect): no reload under its feet, and no waiting for it
            self.inside.depth += 1
            with self.cond:
                self.running += 1
                return self.app
        why = self.changed() if check and self.loaded else None
        with self.cond:
            while self.reloading:
                self.cond.wait()
            if not self.loaded or (why and self.changed()):
                self.reloading = True
                try:
                    while self.running:
                        self.cond.wait()
                    self.cond.release()
                    try:
                        self.load(req, why if self.loaded else None)
                    finally:
                        self.cond.acquire()
                finally:
                    self.reloading = False
                    self.cond.notify_all()
            self.running += 1
            self.inside.depth = 1
            self.inside.since = time.time_ns()
            return self.app

    def leave(self):
        self.inside.depth -= 1
        with self.cond:
            self.running -= 1
            if len(sys.modules) != self.known_len:
                # imported while serving (Django's views)
                self.notice(getattr(self.inside, "since", None))
            if self.reloading and not self.running:
                self.cond.notify_all()


_applications = {}
_applications_lock = threading.Lock()


def _checking(req):
    """Reload checks in force: PythonAutoReload (default On), not frozen."""
    if _apache.importer.frozen:
        return False
    return req.get_config().get("PythonAutoReload", "1") != "0"


def _reloading(req, spec):
    if spec.is_file:
        raise ValueError(LOG_BAD_OPTION + "PythonOption %s On: %s %r must name a module "
                         "on sys.path (PythonPath), not a file"
                         % (RELOAD_OPTION, APP_OPTION, spec.text))
    a = _applications.get(spec.text)
    if a is None:
        with _applications_lock:
            a = _applications.setdefault(spec.text, _Application(spec))
    app = a.enter(req, _checking(req))
    try:
        if app is None:
            return apache.DECLINED
        return _call(req, app)
    finally:
        a.leave()
