"""mod_python.httpdconf: Apache httpd configurations written in Python,
with mod_python 3.5's classes and text.

A configuration is a tree of nodes; str() of a node is httpd.conf text,
repr() is Python that builds the node again:

  * Directive(name, val): one line, `name val`.  Every directive class
    below (AddHandler, Listen, PythonHandler...) is a Directive named
    after its class: PythonHandler("mod_python.publisher").
  * ContainerTag(tag, attr, args): a section, <tag attr> ... </tag>, its
    children indented by two spaces.  Directory, Location, VirtualHost,
    Files, IfModule... are ContainerTags named after their class:
    Directory("/srv/www", SetHandler("mod_python")).
  * Container(*nodes, only_if=None): a list of nodes written one after
    the other at the same indentation; with only_if (a Python expression
    evaluated in this module, e.g. on mod_python.version.HTTPD_VERSION)
    it writes nothing when the expression is false.
  * Comment(text): `# line` per line of text.

Backslashes become slashes in directives and section headers (Windows
paths), except in LogFormat and PythonPath, as in 3.5.

write_basic_config(server_root, ...) writes server_root/conf/httpd_conf.py,
a script that prints a configuration able to run a mod_python
application: `python3 httpd_conf.py > httpd.conf`.
"""
import os
import shutil
import sys

# only_if expressions are evaluated in this module's namespace, where 3.5
# made `mod_python` (and so mod_python.version) visible to them.
import mod_python
import mod_python.version


def _flip(text, flipslash):
    return text.replace("\\", "/") if flipslash else text


def _at(node, indent):
    """A child node, placed at `indent`: the parent sets the child's indent
    attribute and the child writes itself there (3.5's protocol, which
    subclasses with their own __str__/__repr__ rely on)."""
    node.indent = indent
    return node


def _check_node(value):
    if not isinstance(value, (Directive, Container, ContainerTag, Comment)):
        raise TypeError("appended value must be an instance of Directive, "
                        "Container, ContainerTag or Comment")
    return value


class Directive:
    """One directive line, `name val` (val written as given)."""

    def __init__(self, name, val, flipslash=1):
        self.name = name
        self.val = val
        self.indent = 0
        self.flipslash = flipslash

    def __str__(self):
        line = "%s%s %s\n" % (" " * self.indent, self.name, self.val)
        return _flip(line, self.flipslash)

    def __repr__(self):
        code = "%s%s(%r)" % (" " * self.indent, self.name, self.val)
        return _flip(code, self.flipslash)


class Container:
    """Nodes written one after the other; nothing at all when the only_if
    expression is false."""

    def __init__(self, *args, only_if=None):
        self.args = [_check_node(a) for a in args]
        self.indent = 0
        self.only_if = only_if

    def append(self, value):
        self.args.append(_check_node(value))

    def __str__(self):
        if self.only_if and not eval(self.only_if, globals()):
            return ""
        return "".join(str(_at(a, self.indent)) for a in self.args)

    def __repr__(self):
        pad = " " * self.indent
        parts = [pad + "Container("]
        parts += ["\n%r," % _at(a, self.indent + 4) for a in self.args]
        if self.only_if:
            parts.append("\n%s    only_if=%r)" % (pad, self.only_if))
        else:
            parts.append("\n%s)" % pad)
        return "".join(parts)


class ContainerTag:
    """A section: <tag attr>, its children two spaces further in, </tag>."""

    def __init__(self, tag, attr, args, flipslash=1):
        self.tag = tag
        self.attr = attr
        self.args = args
        self.indent = 0
        self.flipslash = flipslash

    def append(self, value):
        self.args = tuple(self.args) + (_check_node(value),)

    def __str__(self):
        pad = " " * self.indent
        parts = [_flip("%s<%s %s>\n" % (pad, self.tag, self.attr), self.flipslash)]
        parts += [str(_at(a, self.indent + 2)) for a in self.args]
        parts.append("%s</%s>\n" % (pad, self.tag))
        return "".join(parts)

    def __repr__(self):
        pad = " " * self.indent
        parts = [_flip("%s%s(%r," % (pad, self.tag, self.attr), self.flipslash)]
        parts += ["\n%r," % _at(a, self.indent + 4) for a in self.args]
        parts.append("\n%s)" % pad)
        return "".join(parts)


class Comment:
    """`# line` for each line of the text."""

    def __init__(self, comment):
        self.comment = comment
        self.indent = 0

    def __str__(self):
        pad = " " * self.indent
        return "".join("%s# %s\n" % (pad, line) for line in self.comment.splitlines())

    def __repr__(self):
        # One string literal per line; Python joins adjacent literals, so
        # the text comes back whole.
        pad = " " * self.indent
        lines = [line + "\n" for line in self.comment.splitlines()] or [""]
        rest = "".join("\n        %s%r" % (pad, line) for line in lines[1:])
        return "%sComment(%r%s)" % (pad, lines[0], rest)


# ------------------------------------------------------------ directives

class _Named(Directive):
    """A directive named after its class: Listen("8080") is `Listen 8080`."""

    _flipslash = 1

    def __init__(self, val):
        Directive.__init__(self, type(self).__name__, val, self._flipslash)


class _Switch(_Named):
    """An On/Off directive that 3.5 let one write without a value (Off)."""

    def __init__(self, val="Off"):
        _Named.__init__(self, val)


class _Verbatim(_Named):
    """A directive whose value keeps its backslashes (format strings,
    Python expressions)."""

    _flipslash = 0


# httpd's, as 3.5 listed them (some are for httpd 2.2 or older).
class AddHandler(_Named): pass
class AddOutputFilter(_Named): pass
class AddType(_Named): pass
class AuthBasicAuthoritative(_Named): pass
class AuthBasicProvider(_Named): pass
class AuthType(_Named): pass
class AuthName(_Named): pass
class CustomLog(_Named): pass
class DirectoryIndex(_Named): pass
class DocumentRoot(_Named): pass
class ErrorLog(_Named): pass
class KeepAliveTimeout(_Named): pass
class Listen(_Named): pass
class LoadModule(_Named): pass
class LogLevel(_Named): pass
class LogFormat(_Verbatim): pass
class MaxConnectionsPerChild(_Named): pass
class MaxClients(_Named): pass
class MaxRequestsPerChild(_Named): pass
class MaxSpareServers(_Named): pass
class MaxSpareThreads(_Named): pass
class MaxThreadsPerChild(_Named): pass
class MinSpareThreads(_Named): pass
class Mutex(_Named): pass
class NameVirtualHost(_Named): pass
class NumServers(_Named): pass
class Options(_Named): pass
class PidFile(_Named): pass
class Require(_Named): pass
class SetHandler(_Named): pass
class ServerAdmin(_Named): pass
class ServerName(_Named): pass
class ServerPath(_Named): pass
class ServerRoot(_Named): pass
class StartServers(_Named): pass
class StartThreads(_Named): pass
class ThreadsPerChild(_Named): pass
class Timeout(_Named): pass
class TypesConfig(_Named): pass


class LockFile(_Named):
    """httpd 2.2's accept lock file (2.4 has Mutex instead); 3.5 wrote it
    commented out on Windows."""

    def __init__(self, val):
        _Named.__init__(self, val)
        if sys.platform == "win32":
            self.name = "#" + self.name


# httpd's that a configuration for httpd 2.4 needs beyond 3.5's list (the
# children's user, the 2.4 names of the process limits).
class AddInputFilter(_Named): pass
class Alias(_Named): pass
class AllowOverride(_Named): pass
class DefaultRuntimeDir(_Named): pass
class Group(_Named): pass
class MaxRequestWorkers(_Named): pass
class ServerLimit(_Named): pass
class SetInputFilter(_Named): pass
class SetOutputFilter(_Named): pass
class User(_Named): pass


# mod_python's: every directive it has.
class PythonAccessHandler(_Named): pass
class PythonAuthenHandler(_Named): pass
class PythonAuthzHandler(_Named): pass
class PythonAutoReload(_Named): pass
class PythonCleanupHandler(_Named): pass
class PythonConnectionHandler(_Named): pass
class PythonDebug(_Named): pass
class PythonEnablePdb(_Named): pass
class PythonFixupHandler(_Named): pass
class PythonHandler(_Named): pass
class PythonHandlerModule(_Named): pass
class PythonHeaderParserHandler(_Named): pass
class PythonHome(_Named): pass
class PythonImport(_Named): pass
class PythonInitHandler(_Named): pass
class PythonInputFilter(_Named): pass
class PythonInterpLimit(_Named): pass
class PythonInterpPerDirective(_Switch): pass
class PythonInterpPerDirectory(_Switch): pass
class PythonInterpreter(_Named): pass
class PythonLogHandler(_Named): pass
class PythonOptimize(_Named): pass
class PythonOption(_Named): pass
class PythonOutputFilter(_Named): pass
class PythonPath(_Verbatim): pass
class PythonPostReadRequestHandler(_Named): pass
class PythonTransHandler(_Named): pass
class PythonTypeHandler(_Named): pass


# ------------------------------------------------------------ sections

class _Section(ContainerTag):
    """A section named after its class: Directory("/srv", ...)."""

    def __init__(self, attr, *args):
        ContainerTag.__init__(self, type(self).__name__, attr, args)


class Directory(_Section): pass
class DirectoryMatch(_Section): pass
class Files(_Section): pass
class FilesMatch(_Section): pass
class IfDefine(_Section): pass
class IfModule(_Section): pass
class Location(_Section): pass
class LocationMatch(_Section): pass
class VirtualHost(_Section): pass


# ------------------------------------------------------------ write_basic_config

def quote_if_space(s):
    """s in double quotes if it has a space (httpd splits arguments at
    spaces), else s."""
    return '"%s"' % s if " " in s else s


# The modules write_basic_config loads (3.5's set), after an MPM.
BASIC_MODULES = (
    "authn_file", "authn_core", "authz_host", "authz_groupfile", "authz_user",
    "authz_core", "access_compat", "auth_basic", "reqtimeout", "include",
    "filter", "mime", "log_config", "env", "headers", "setenvif", "version",
    "unixd", "status", "autoindex", "dir", "alias",
)

_SCRIPT_HEAD = """#!%s

#
# This config was auto-generated, but you can edit it!
# It can be used to generate an Apache config by simply
# running it. We recommend you run it like this:
# $ mod_python genconfig <this filename> > <new apache confg>
#\n
"""


def _say(message):
    print(message, file=sys.stderr)


def _make_dirs(server_root, dirs, conf):
    """Create the tree (keeping what is there) and copy a mime.types."""
    for d in [server_root] + [os.path.join(server_root, d) for d in dirs]:
        if os.path.isdir(d):
            _say("Warning: directory %r already exists, continuing." % d)
        else:
            _say("Creating directory %r." % d)
            os.mkdir(d)
    dest = os.path.join(server_root, conf, "mime.types")
    if os.path.isfile(dest):
        _say("Warning: file %r already exists, continuing." % dest)
        return
    for d in (mod_python.version.SYSCONFDIR, "/etc"):
        src = os.path.join(d, "mime.types")
        if os.path.isfile(src):
            _say("Copying %r to %r" % (src, dest))
            shutil.copy(src, dest)
            return


def _modules(modpath, mpm):
    """LoadModule lines for an MPM and BASIC_MODULES.  A module whose file
    is not in modpath is built into httpd (Debian's log_config, unixd,
    version; a static MPM) or not installed: a LoadModule of it would stop
    httpd, so it is left out."""
    section = Container(Comment("\nLoad the necessary modules (this is the default httpd set):\n\n"))
    names = (["mpm_" + mpm] if mpm else []) + list(BASIC_MODULES)
    for name in names:
        path = os.path.join(modpath, "mod_%s.so" % name)
        if not os.path.isfile(path):
            _say("Not loading %s_module: no file %r (built into httpd, or not "
                 "installed)." % (name, path))
            continue
        section.append(LoadModule("%s_module %s" % (name, quote_if_space(path))))
    return section


def _main(server_root, listen, htdocs, logs, mime_types, user, group):
    section = Container(
        Comment("\nMain configuration options:\n\n"),
        ServerRoot(server_root),
        Container(MaxConnectionsPerChild("65536"),
                  only_if="mod_python.version.HTTPD_VERSION[0:3] == '2.4'"),
        Container(MaxRequestsPerChild("65536"),
                  only_if="mod_python.version.HTTPD_VERSION[0:3] < '2.4'"),
        LogFormat(r'"%h %l %u %t \"%r\" %>s %b \"%{Referer}i\" \"%{User-Agent}i\"" combined'),
        CustomLog("%s combined" % quote_if_space(os.path.join(logs, "access_log"))),
        ErrorLog(quote_if_space(os.path.join(logs, "error_log"))),
        LogLevel("warn"),
        PidFile(quote_if_space(os.path.join(logs, "httpd.pid"))),
        TypesConfig(quote_if_space(mime_types)),
        # Named, so that httpd does not warn it cannot determine its name.
        ServerName("127.0.0.1"),
        Listen(listen),
        DocumentRoot(quote_if_space(os.path.join(server_root, htdocs))),
        Container(LockFile(quote_if_space(os.path.join(logs, "accept.lock"))),
                  only_if="mod_python.version.HTTPD_VERSION[0:3] == '2.2'"),
    )
    # Started as root, httpd runs its children as this user.
    if user:
        section.append(User(user))
    if group:
        section.append(Group(group))
    return section


def _python(mod_python_so, pythonhandler, pythonpath, pythonoptions, mp_comments):
    section = Container(
        Comment("\nmod_python-specific options:\n\n"),
        LoadModule("python_module %s" % quote_if_space(mod_python_so)),
        SetHandler("mod_python"),
        Comment("PythonDebug On"),
        PythonHandler(pythonhandler),
    )
    if pythonpath:
        # The value is a Python expression, assigned to sys.path.
        section.append(PythonPath('"sys.path+[%s]"' % "".join("%r," % p for p in pythonpath)))
    for option in pythonoptions:
        section.append(PythonOption(option))
    for comment in mp_comments:
        section.append(Comment(comment))
    return section


def write_basic_config(server_root, listen="0.0.0.0:8888", conf="conf", logs="logs",
                       htdocs="public", pythonhandler="mod_python.publisher",
                       pythonpath=(), pythonoptions=(), mp_comments=(),
                       conf_name="httpd_conf.py", createdirs=True, replace_config=False,
                       mpm="event", mod_python_so=None, user=None, group=None):
    """Write server_root/conf/conf_name: a Python script printing an httpd
    configuration that serves server_root/htdocs with `pythonhandler`
    (directories made and mime.types copied when createdirs).  Returns the
    script's path, or None (and says why on stderr) if it exists and not
    replace_config.

    Beyond 3.5's arguments: `mpm` (the MPM to load when httpd has it as a
    module; None for none), `mod_python_so` (default: mod_python.so in
    mod_python.version.LIBEXECDIR, where `make install` puts it), `user`
    and `group` (the children's, when httpd is started as root)."""
    conf_path = os.path.join(server_root, conf, conf_name)
    if os.path.exists(conf_path) and not replace_config:
        _say("Error: %r already exists, aborting." % conf_path)
        return None
    if createdirs:
        _make_dirs(server_root, [htdocs, conf, logs], conf)

    mime_types = os.path.join(conf, "mime.types")
    if not os.path.exists(os.path.join(server_root, mime_types)):
        _say("Warning: file %r does not exist." % os.path.join(server_root, mime_types))
    if not os.path.isdir(os.path.join(server_root, htdocs)):
        _say("Warning: %r does not exist or not a directory."
             % os.path.join(server_root, htdocs))

    modpath = mod_python.version.LIBEXECDIR
    config = Container(
        Comment("\nThis config was auto-generated, do not edit!\n\n"),
        _modules(modpath, mpm),
        _main(server_root, listen, htdocs, logs, mime_types, user, group),
        _python(mod_python_so or os.path.join(modpath, "mod_python.so"),
                pythonhandler, pythonpath, pythonoptions, mp_comments),
    )
    script = (_SCRIPT_HEAD % mod_python.version.PYTHON_BIN
              + "from mod_python.httpdconf import *\n\n"
              + "config = " + repr(config)
              + "\n\nprint(config)\n")
    _say("Writing %r." % conf_path)
    with open(conf_path, "w") as f:
        f.write(script)
    return conf_path
