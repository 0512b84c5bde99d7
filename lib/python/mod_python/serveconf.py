"""The httpd configuration of `mod_python serve` (mod_python.cli): what
TARGET is (a handler file, a directory of publisher modules and PSP pages,
or a WSGI application), and the text of a configuration that serves it
from a temporary directory, logging to the terminal.
"""
import ast
import os

from mod_python.clihttpd import CliError

# The modules a served tree needs, after the MPM (mpm_NAME); load_lines()
# leaves out those built into httpd (Debian's log_config and unixd).
SERVE_MODULES = ("authz_core", "mime", "dir", "log_config", "unixd")

# What serves a directory: the publisher for .py, PSP for .psp; other files
# are httpd's (static).
DIRECTORY_SECTION = """\
    SetHandler mod_python
    PythonHandler mod_python.publisher | .py
    PythonHandler mod_python.psp | .psp
    DirectoryIndex index.py index.psp index.html"""

CONFIG = """\
# Written by `mod_python serve`; removed when it stops.  The logs go to
# httpd's stdout and stderr: pipes that mod_python serve copies to its own.
ServerRoot {tmp}
Listen {listen}
ServerName {server_name}
PidFile {tmp}/httpd.pid
DefaultRuntimeDir {tmp}
Mutex file:{tmp} default
{user}
{loads}
LoadModule python_module {module}
{freeze}
{mpm_settings}
ErrorLog /dev/stderr
LogLevel notice
LogFormat "%h %l %u %t \\"%r\\" %>s %b %D" served
CustomLog /dev/stdout served
TypesConfig {mime_types}
DocumentRoot {docroot}
<Directory />
    AllowOverride None
</Directory>
{section}
"""


def _defines_handler(path):
    """Whether the module at `path` binds `handler` at top level (a def,
    an assignment or an import), by reading it, not running it."""
    try:
        with open(path, "rb") as f:
            tree = ast.parse(f.read(), path)
    except OSError as e:
        raise CliError("cannot read %s: %s" % (path, e.strerror))
    except (SyntaxError, ValueError):
        # being edited: served, its traceback shows until it is fixed
        return True
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names = [node.name]
        elif isinstance(node, ast.Assign):
            names = [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [a.asname or a.name for a in node.names]
        else:
            continue
        if "handler" in names:
            return True
    return False


def _servable(directory, limit=50):
    """Up to `limit` .py and .psp files in `directory` and below (hidden
    directories and __pycache__ left out): what the children must read,
    and proof that there is something to serve."""
    found = []
    for path, dirs, files in os.walk(directory):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d != "__pycache__")
        found += [os.path.join(path, f) for f in sorted(files)
                  if f.endswith((".py", ".psp")) and not f.startswith(".")]
        if len(found) >= limit:
            break
    return found[:limit]


def _wsgi(target, spec, reload):
    """(docroot, section, paths to read) for --wsgi MODULE[::CALLABLE]:
    MODULE a file (relative to TARGET, a directory) loaded and reloaded by
    mod_python's importer, or a name on sys.path (TARGET is put on it),
    reloaded by mod_python.wsgi.reload."""
    if not os.path.isdir(target):
        raise CliError("with --wsgi, TARGET is the application's directory: %r is not "
                       "a directory" % target)
    module, sep, callable_ = spec.partition("::")
    suffix = sep + callable_
    options = []
    if module.endswith(".py") or "/" in module:
        as_file = os.path.join(target, module)
    else:
        as_file = os.path.join(target, module + ".py")
    if os.path.isfile(as_file):
        app, paths = os.path.abspath(as_file) + suffix, [target, as_file]
    elif module.endswith(".py") or "/" in module:
        raise CliError("no WSGI application file %r" % as_file)
    elif all(part.isidentifier() for part in module.split(".")):
        app, paths = module + suffix, [target]
        if reload:
            options.append("PythonOption mod_python.wsgi.reload On")
    else:
        raise CliError("--wsgi wants MODULE::CALLABLE (a file app.py or a module name "
                       "on the path), not %r" % spec)
    section = ["<Location />", "    SetHandler mod_python",
               "    PythonHandler mod_python.wsgi",
               '    PythonPath "sys.path + [%r]"' % os.path.abspath(target),
               "    PythonOption mod_python.wsgi.application %s" % app]
    section += ["    " + o for o in options] + ["</Location>"]
    return target, "\n".join(section), paths


def target_section(target, wsgi=None, reload=True):
    """(docroot, the <Directory> or <Location> that serves TARGET, the
    paths httpd's children must read)."""
    if not os.path.exists(target):
        raise CliError("%r does not exist" % target)
    target = os.path.abspath(target)
    if wsgi:
        docroot, section, paths = _wsgi(target, wsgi, reload)
    elif os.path.isdir(target):
        paths = _servable(target)
        if not paths:
            raise CliError("%r has nothing to serve: no .py (publisher) or .psp (PSP) "
                           "file in it or below" % target)
        docroot, paths = target, [target] + paths
        section = "<Directory %s>\n%s\n</Directory>" % (target, DIRECTORY_SECTION)
    elif target.endswith(".py"):
        if not _defines_handler(target):
            raise CliError("%r has nothing to serve: it defines no handler(req)" % target)
        docroot, paths = os.path.dirname(target), [os.path.dirname(target), target]
        section = ("<Directory %s>\n    SetHandler mod_python\n    PythonHandler %s\n"
                   "</Directory>" % (docroot, os.path.basename(target)[:-3]))
    else:
        raise CliError("%r is neither a .py file defining handler(req) nor a directory"
                       % target)
    reload_line = "PythonAutoReload %s" % ("On" if reload else "Off")
    grant = "<Directory %s>\n    Require all granted\n    PythonDebug On\n    %s\n" \
            "</Directory>\n" % (docroot, reload_line)
    return docroot, grant + section, paths


def mpm_settings(mpm, processes, threads):
    """Fixed numbers of children (and threads): a development server
    whose processes do not come and go."""
    if mpm == "prefork":
        return ("StartServers {p}\nServerLimit {p}\nMaxRequestWorkers {p}\n"
                "MinSpareServers 1\nMaxSpareServers {p}").format(p=processes)
    return ("StartServers {p}\nServerLimit {p}\nThreadLimit {t}\nThreadsPerChild {t}\n"
            "MaxRequestWorkers {m}\nMinSpareThreads 1\nMaxSpareThreads {m}"
            ).format(p=processes, t=threads, m=processes * threads)


def mime_types():
    """A mime.types for TypesConfig (Debian's media-types, or httpd's)."""
    from mod_python import version
    for path in ("/etc/mime.types", os.path.join(version.SYSCONFDIR, "mime.types")):
        if os.path.isfile(path):
            return path
    return os.devnull
