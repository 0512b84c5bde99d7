"""mod_python.publisher: publish the objects of a Python file on the web.

    <Directory /srv/www/app>
        SetHandler mod_python
        PythonHandler mod_python.publisher
    </Directory>

A URL names a file and an object in it: /app/hello.py/say (or /app/hello/say)
calls say() in /srv/www/app/hello.py with the form's fields as keyword
arguments and sends what it returns.  The names and behaviour are mod_python
3.5's; what differs is said where it is done, and in the README.

  * The file: the last part of req.filename with an extension that chose
    the handler stripped (".py", AddHandler's, req.extension), plus ".py";
    if there is no such file, index.py, the part becoming the first name
    of the object's path.  A directory (/app/) means index.py.
  * The object: req.path_info, its slashes (and dots) separating names,
    followed from the module with getattr; "index" when there is none.
    Names starting with "_" are refused (403), so are modules, classes
    and built-in functions, and objects of the `types` module's types
    cannot be traversed (a function's attributes, say).
  * Access: `__auth__` (dict of user: password, callable(req, user,
    password), or a constant), `__access__` (list of users,
    callable(req, user), or a constant) and `__auth_realm__` on the
    module, on each object on the way, and inside a published function's
    body, read without running it.  Basic credentials; 401 or 403.
  * The result: a callable is called with the form's fields (util.
    FieldStorage, kept as req.form) bound to the arguments it names;
    what it returns is published in turn.  None sends nothing; anything
    else is written (str as text, bytes as they are, other objects as
    str()), as text/html if it ends with </html> and text/plain if not,
    unless the handler set req.content_type.

The file is loaded by mod_python's importer, by its path: a change to it, or
to any module it imports, is seen by the next request (3.5's publisher kept
a cache of its own that did not see the second).
"""
import base64
import binascii
import dis
import os
import re
import types
import weakref
from collections.abc import Mapping

from . import apache
from . import util

__all__ = ["handler", "process_auth", "resolve_object", "publish_object"]

_METHODS = ["GET", "POST", "HEAD"]

# 3.5 exported the importable suffixes as a string; code of its time reads it.
imp_suffixes = "py"

# --------------------------------------------------------------- the rules

# tp_rules[type] = (traversable, publishable): whether a name may be looked
# up on an object of that type, and whether such an object may be the one
# published.  Types not in it follow default_tp_rule.  Applications of 3.5's
# time adjust this dict; it is read on every request.
default_builtins_tp_rule = (False, True)
default_tp_rule = (True, True)
tp_rules = {t: default_builtins_tp_rule for t in vars(types).values()
            if isinstance(t, type)}
tp_rules[types.ModuleType] = (False, False)
tp_rules[types.BuiltinFunctionType] = (False, False)
tp_rules[type] = (False, False)            # classes
tp_rules[types.GeneratorType] = (False, True)


def _rule(obj):
    """(traversable, publishable) for obj.  A class of another metaclass
    follows the rule of classes, a module of a module subclass that of
    modules (3.5 looked the exact type up, and so published them)."""
    rule = tp_rules.get(type(obj))
    if rule is not None:
        return rule
    if isinstance(obj, type):
        return tp_rules.get(type, (False, False))
    if isinstance(obj, types.ModuleType):
        return tp_rules.get(types.ModuleType, (False, False))
    return default_tp_rule


# ----------------------------------------------------------------- handler

def handler(req):
    req.allow_methods(_METHODS)
    if req.method not in _METHODS:
        raise apache.SERVER_RETURN(apache.HTTP_METHOD_NOT_ALLOWED)
    filename, object_path = _locate(req)
    req.filename = filename
    module = apache.import_module(filename)
    realm, user, passwd = process_auth(req, module)
    obj = resolve_object(req, module, object_path, realm, user, passwd)
    if not publish_object(req, obj) and req._bytes_queued == 0 and req.next is None:
        if req.get_config().get("PythonDebug", "0") == "1":
            req.log_error("mod_python.publisher: nothing to publish.")
    return apache.OK


def _strip_extension(req, name):
    """name without the extension that chose this handler, if it has one:
    .py, req.extension, or an AddHandler extension of mod_python's."""
    if name.endswith(".py"):
        return name[:-3]
    ext = req.extension
    if ext and name.endswith(ext):
        return name[:-len(ext)]
    for ext in req.get_addhandler_exts().split():
        if name.endswith("." + ext):
            return name[:-len(ext) - 1]
    return name


def _locate(req):
    """(the file to publish from, the dotted path of the object in it)."""
    filename = req.filename
    directory, _, name = filename.rpartition("/")
    if not name:
        name = "index"              # a directory: httpd gave it a final /
    elif "." in name:
        name = _strip_extension(req, name)
    obj = req.path_info or ""
    obj = obj[1:-1] if obj.endswith("/") else obj[1:]
    path = directory + "/" + name + ".py"
    # When the URL named the file itself, httpd has stat()ed it already.
    if not (path == filename and req.finfo.filetype == apache.APR_REG) and \
            not os.path.isfile(path):
        # no such file: the name is the first of an object in index.py
        obj = name + "/" + obj if obj else name
        path = directory + "/index.py"
        if not os.path.isfile(path):
            raise apache.SERVER_RETURN(apache.HTTP_NOT_FOUND)
    if "//" in path or "/." in path:
        path = os.path.normpath(path)
    return path, (obj or "index").replace("/", ".")


class PageCache:
    """3.5's cache of published pages, indexed by request: page_cache[req]
    is the module of req.filename.  The importer is the cache now."""

    def __getitem__(self, req):
        return apache.import_module(req.filename)


page_cache = PageCache()


# --------------------------------------------------------------- traversal

def resolve_object(req, obj, object_str, realm=None, user=None, passwd=None):
    """Follow the dotted names of object_str from obj (the module),
    checking the rules and each object's access on the way; return the
    object to publish or raise SERVER_RETURN (403, 404, 401)."""
    name = object_str
    for i, name in enumerate(object_str.split(".")):
        if not name:
            raise apache.SERVER_RETURN(apache.HTTP_NOT_FOUND)
        if name[0] == "_":
            _refuse(req, name, "it starts with an underscore")
        if i and not _rule(obj)[0]:
            _refuse(req, name, "%r cannot be traversed" % (obj,))
        try:
            obj = getattr(obj, name)
        except AttributeError:
            raise apache.SERVER_RETURN(apache.HTTP_NOT_FOUND)
        realm, user, passwd = process_auth(req, obj, realm, user, passwd)
    if not _rule(obj)[1]:
        _refuse(req, name, "%r cannot be published" % (obj,))
    return obj


def _refuse(req, name, why):
    req.log_error("mod_python.publisher: cannot traverse %s in %s: %s"
                  % (name, req.unparsed_uri, why), apache.APLOG_WARNING)
    raise apache.SERVER_RETURN(apache.HTTP_FORBIDDEN)


# ------------------------------------------------------------------ access

def process_auth(req, object, realm="unknown", user=None, passwd=None):
    """Apply object's __auth__, __access__ and __auth_realm__ (attributes;
    for a function or method also the assignments in its body); return
    (realm, user, passwd) for the objects below it.  user and passwd are
    the Basic credentials once read."""
    auth, access, realm = _access_of(req, object, realm)
    if auth is _NONE and access is _NONE:
        return realm, user, passwd

    if not user and "Authorization" in req.headers_in:
        user, passwd = _basic_credentials(req)

    if auth is not _NONE:
        if not user:
            _challenge(req, realm)
        if callable(auth):
            ok = auth(req, user, passwd)
        elif isinstance(auth, Mapping):
            ok = user in auth and auth[user] == passwd
        else:
            ok = auth
        if not ok:
            _challenge(req, realm)

    if access is not _NONE:
        if callable(access):
            ok = access(req, user)
        elif isinstance(access, (list, tuple, set, frozenset)):
            ok = user in access
        else:
            ok = access
        if not ok:
            raise apache.SERVER_RETURN(apache.HTTP_FORBIDDEN)
    return realm, user, passwd


_NONE = object()   # "not given" (None is a value __auth__ may have)


def _access_of(req, obj, realm):
    """(__auth__, __access__, realm) of obj, _NONE for what it has not.
    Read from the __dict__ of modules and functions (what getattr() would
    find, without the cost of a failed lookup on every request)."""
    t = type(obj)
    func = obj.__func__ if t is types.MethodType else obj
    if type(func) is types.FunctionType:
        # 3.5 read a function's body only; an attribute set on it counts
        # too here (it can only add a check, never remove one).
        d = func.__dict__
        inner = _function_access(req, func)
        if inner:
            return (inner.get("__auth__", d.get("__auth__", _NONE)),
                    inner.get("__access__", d.get("__access__", _NONE)),
                    inner.get("__auth_realm__", d.get("__auth_realm__", realm)))
        if not d:
            return _NONE, _NONE, realm
        return d.get("__auth__", _NONE), d.get("__access__", _NONE), \
            d.get("__auth_realm__", realm)
    if t is types.ModuleType and "__getattr__" not in obj.__dict__:
        d = obj.__dict__
        return d.get("__auth__", _NONE), d.get("__access__", _NONE), \
            d.get("__auth_realm__", realm)
    return (getattr(obj, "__auth__", _NONE), getattr(obj, "__access__", _NONE),
            getattr(obj, "__auth_realm__", realm))


def _basic_credentials(req):
    """(user, password) from an Authorization: Basic header; (None, None)
    for another scheme; 400 when it cannot be decoded.  Decoded here, not
    by httpd, which wants AuthType and AuthName set (as 3.5 did)."""
    scheme, _, value = req.headers_in["Authorization"].strip().partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        text = base64.b64decode(value.strip())
        user, passwd = util._text(text).split(":", 1)
    except (binascii.Error, ValueError):
        raise apache.SERVER_RETURN(apache.HTTP_BAD_REQUEST)
    return user, passwd


def _challenge(req, realm):
    realm = str(realm).replace("\\", "\\\\").replace('"', '\\"')
    req.err_headers_out["WWW-Authenticate"] = 'Basic realm="%s"' % realm
    raise apache.SERVER_RETURN(apache.HTTP_UNAUTHORIZED)


# ---------------------------------------------- access inside a function

_ACCESS_NAMES = ("__auth__", "__access__", "__auth_realm__")
_ACCESS_SET = frozenset(_ACCESS_NAMES)
_EMPTY = {}
_STORES = ("STORE_FAST", "STORE_NAME", "STORE_GLOBAL", "STORE_DEREF")


class _Unknown:
    """A value the code computes: it cannot be known without running it."""

    def __init__(self, why):
        self.why = why


class _Global:
    """A value read from the function's globals (or builtins) by name."""

    def __init__(self, name):
        self.name = name


class _Func:
    """A function the code makes (def, lambda) from a code constant."""

    def __init__(self, code, defaults, kwdefaults):
        self.code, self.defaults, self.kwdefaults = code, defaults, kwdefaults


# {code object: {name: what the body assigns to it}}; a reloaded module has
# new code objects, and the old entries go with the old ones.
_recipes = weakref.WeakKeyDictionary()


def _function_access(req, func):
    """{name: value} of the access names func's body assigns, as 3.5 read
    them from the code object (for a def or lambda: the function made with
    func's globals).  A name assigned something that cannot be read
    without running the code (a call, a closure, a branch) refuses the
    request (500): an unread __auth__ must not let everyone in."""
    code = func.__code__
    if _ACCESS_SET.isdisjoint(code.co_varnames) and \
            _ACCESS_SET.isdisjoint(code.co_names) and \
            _ACCESS_SET.isdisjoint(code.co_cellvars):
        return _EMPTY                        # the body cannot assign them
    recipe = _recipes.get(code)
    if recipe is None:
        recipe = _recipes[code] = _read_assignments(code)
    out = {}
    for name, r in recipe.items():
        value = _make(r, func)
        if isinstance(value, _Unknown):
            req.log_error("mod_python.publisher: %s in %s (%s, line %d) cannot be "
                          "read without running it: %s; refused"
                          % (name, code.co_qualname if hasattr(code, "co_qualname")
                             else code.co_name, code.co_filename,
                             code.co_firstlineno, value.why), apache.APLOG_ERR)
            raise apache.SERVER_RETURN(apache.HTTP_INTERNAL_SERVER_ERROR)
        out[name] = value
    return out


def _make(r, func):
    """The value a recipe stands for, for this function."""
    if isinstance(r, _Global):
        g = func.__globals__
        if r.name in g:
            return g[r.name]
        b = g.get("__builtins__")
        b = vars(b) if isinstance(b, types.ModuleType) else b
        if isinstance(b, dict) and r.name in b:
            return b[r.name]
        return _Unknown("global %r is not defined" % r.name)
    if isinstance(r, _Func):
        f = types.FunctionType(r.code, func.__globals__, r.code.co_name, r.defaults)
        if r.kwdefaults:
            f.__kwdefaults__ = r.kwdefaults
        return f
    return r


def _read_assignments(code):
    """{name: recipe} for the access names assigned in code's body.

    A small stack machine over the byte code: constants, containers built
    from constants, globals, and functions made from code constants are
    followed; anything else makes the values on the stack unknown, and so
    does a jump target (a value may come from another branch).  Several
    assignments must agree."""
    found = {}
    stack = []

    def pop(n=1):
        got = [stack.pop() if stack else _Unknown("computed") for _ in range(n)]
        got.reverse()
        return got

    def const(v):
        return not isinstance(v, (_Unknown, _Global, _Func))

    for ins in dis.get_instructions(code):
        op, arg = ins.opname, ins.arg
        if ins.is_jump_target:
            stack = [_Unknown("depends on a branch")] * len(stack)
        if op.startswith("LOAD_CONST") or op == "LOAD_SMALL_INT":
            stack.append(ins.argval)
        elif op in ("LOAD_GLOBAL", "LOAD_NAME"):
            if op == "LOAD_GLOBAL" and _pushes_null(ins):
                stack.append(_Unknown("a call"))
            stack.append(_Global(ins.argval))
        elif op in ("BUILD_LIST", "BUILD_TUPLE", "BUILD_SET"):
            items = pop(arg)
            kind = {"BUILD_LIST": list, "BUILD_TUPLE": tuple, "BUILD_SET": set}[op]
            stack.append(kind(items) if all(map(const, items))
                         else _Unknown("a container of computed values"))
        elif op == "BUILD_MAP":
            items = pop(2 * arg)
            stack.append(dict(zip(items[::2], items[1::2])) if all(map(const, items))
                         else _Unknown("a container of computed values"))
        elif op == "BUILD_CONST_KEY_MAP":
            keys = pop()[0]
            values = pop(arg)
            stack.append(dict(zip(keys, values)) if const(keys) and all(map(const, values))
                         else _Unknown("a container of computed values"))
        elif op in ("LIST_EXTEND", "SET_UPDATE", "DICT_UPDATE", "LIST_APPEND", "SET_ADD"):
            v = pop()[0]
            if len(stack) < arg:
                stack = []
                continue
            target = stack[-arg]
            if const(v) and isinstance(target, (list, set, dict)):
                if op == "LIST_APPEND":
                    target.append(v)
                elif op == "SET_ADD":
                    target.add(v)
                elif isinstance(target, list):
                    target.extend(v)
                else:
                    target.update(v)
            else:
                stack[-arg] = _Unknown("a container of computed values")
        elif op == "LIST_TO_TUPLE":
            v = pop()[0]
            stack.append(tuple(v) if isinstance(v, list) else _Unknown("computed"))
        elif op == "MAKE_FUNCTION":
            stack.append(_make_function(pop, arg or 0))
        elif op == "SET_FUNCTION_ATTRIBUTE":          # 3.13+: flag, func made
            f, v = pop(2)[::-1]
            stack.append(_set_function_attribute(f, arg, v))
        elif op in _STORES:
            v = pop()[0]
            if ins.argval in _ACCESS_NAMES:
                _found(found, ins.argval, v)
        elif op in ("NOP", "RESUME", "CACHE", "EXTENDED_ARG", "MAKE_CELL",
                    "COPY_FREE_VARS", "NOT_TAKEN"):
            pass
        else:
            if op.startswith("STORE_"):               # other stores (3.13's pairs)
                for name in _ACCESS_NAMES:
                    if name in str(ins.argval):
                        _found(found, name, _Unknown("assigned by %s" % op))
            stack = [_Unknown("computed")] * len(stack)
    return found


def _pushes_null(ins):
    # LOAD_GLOBAL pushes a NULL first when its argument's low bit is set
    # (3.11+; before that the argument was the name's index alone).
    return ins.argrepr.startswith("NULL")


def _make_function(pop, flags):
    """MAKE_FUNCTION: the code object on top (up to 3.10: the qualified
    name, then the code), below it what the flags say, in the order
    closure, annotations, kwdefaults, defaults."""
    top = pop()[0]
    code = pop()[0] if isinstance(top, str) else top
    closure = annotations = kwdefaults = defaults = None
    if flags & 0x08:
        closure = pop()[0]
    if flags & 0x04:
        annotations = pop()[0]
    if flags & 0x02:
        kwdefaults = pop()[0]
    if flags & 0x01:
        defaults = pop()[0]
    del annotations
    if not isinstance(code, types.CodeType):
        return _Unknown("computed")
    if closure is not None or code.co_freevars:
        return _Unknown("a function using the variables of the enclosing one")
    if (defaults is not None and not isinstance(defaults, tuple)) or \
            (kwdefaults is not None and not isinstance(kwdefaults, dict)):
        return _Unknown("defaults computed")
    return _Func(code, defaults, kwdefaults)


def _set_function_attribute(f, flag, v):
    if not isinstance(f, _Func):
        return _Unknown("computed")
    if flag == 0x08:
        return _Unknown("a function using the variables of the enclosing one")
    if flag == 0x01:
        if not isinstance(v, tuple):
            return _Unknown("defaults computed")
        f.defaults = v
    elif flag == 0x02:
        if not isinstance(v, dict):
            return _Unknown("defaults computed")
        f.kwdefaults = v
    return f


def _found(found, name, v):
    """Record an assignment; one that disagrees with an earlier one makes
    the name unknown."""
    if name not in found:
        found[name] = v
        return
    old = found[name]
    if isinstance(old, _Unknown):
        return
    same = (isinstance(v, _Global) and isinstance(old, _Global) and v.name == old.name) or \
        (isinstance(v, _Func) and isinstance(old, _Func) and v.code is old.code) or \
        (not isinstance(v, (_Unknown, _Global, _Func)) and
         not isinstance(old, (_Global, _Func)) and type(v) is type(old) and v == old)
    if not same:
        found[name] = v if isinstance(v, _Unknown) else _Unknown("assigned different values")


# --------------------------------------------------------------- publishing

# 3.5's test for an HTML page: </html> at the end (in its last 100
# characters), in either case; and the charset of a Content-Type.
re_html = re.compile(r"</HTML\s*>\s*$", re.I)
re_charset = re.compile(r"charset\s*=\s*([^\s;]+)", re.I)
_re_html_bytes = re.compile(rb"</HTML\s*>\s*$", re.I)

# A callable returning a callable is called in turn, up to this many times.
MAX_CALLS = 100


def publish_object(req, obj):
    """Publish obj: call it while it is callable (with the form's fields,
    req.form), then write the result.  False when there was nothing to
    write (None)."""
    form = None
    for _ in range(MAX_CALLS):
        if not callable(obj):
            return _write(req, obj)
        if form is None:
            form = req.form = util.FieldStorage(req, keep_blank_values=1)
        obj = _call(obj, form, req)
    raise RuntimeError("mod_python.publisher: %d calls in a row returned a callable"
                       % MAX_CALLS)


def _call(obj, form, req):
    """util.apply_fs_data(obj, form, req=req), done here for its most
    common case (a function, a form without fields) without inspecting
    obj afresh: req is passed if the function names it (not positional-
    only) or takes **kw."""
    if form.list or type(obj) is not types.FunctionType:
        return util.apply_fs_data(obj, form, req=req)
    code = obj.__code__
    if code.co_flags & 0x08 or "req" in code.co_varnames[
            code.co_posonlyargcount:code.co_argcount + code.co_kwonlyargcount]:
        return obj(req=req)
    return obj()


def _write(req, obj):
    if obj is None:
        return False
    if isinstance(obj, (bytes, bytearray, memoryview)):
        # 3.5 on Python 3 wrote str(obj), b'...'; bytes go as they are.
        data = bytes(obj)
        html = _re_html_bytes.search(data, max(0, len(data) - 100))
    else:
        data = obj if type(obj) is str else str(obj)
        html = re_html.search(data, max(0, len(data) - 100))
    if req._content_type_set:
        if type(data) is str:
            data = _encode(req, data)
    else:
        req.content_type = "text/html" if html else "text/plain"
    # Written even for HEAD (httpd drops the body, after output filters and
    # Content-Length saw it), and not flushed, so that httpd can still add
    # the Content-Length.  A str is written by the text rule (UTF-8).
    req.write(data, 0)
    return True


def _encode(req, text):
    """text as bytes in the charset the handler's Content-Type names; else
    as it is (req.write() applies the text rule: UTF-8)."""
    m = re_charset.search(req.content_type or "")
    if m:
        try:
            return text.encode(m.group(1).strip("\"'"))
        except LookupError:
            pass
    return text
