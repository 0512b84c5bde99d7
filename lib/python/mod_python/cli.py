"""The `mod_python` command: mod_python 3.5's subcommands and `serve`.

    mod_python create DIR [--listen HOST:PORT] [--pythonhandler H] ...
    mod_python start|stop|restart DIR      (or DIR/conf/httpd.conf itself)
    mod_python genconfig DIR|SCRIPT [--write]
    mod_python version
    mod_python serve [TARGET] [--port N] [--host H] [--mpm M] [--no-reload]
                     [--wsgi MODULE::CALLABLE] [--processes N] [--threads N]

Installed, it is `python3 -m mod_python.cli`; from a build tree,
scripts/mod_python (which sets MOD_PYTHON_SO to the built module).
"""
import argparse
import contextlib
import io
import os
import platform
import runpy
import shutil
import subprocess
import sys
import tempfile
import time

import mod_python
from mod_python import httpdconf, serveconf, version
from mod_python.clihttpd import (CliError, check_port, check_readable, find_httpd,
                                 find_module, httpd_env, load_lines,
                                 run_foreground, run_user)

MPMS = ("event", "worker", "prefork")

# create's handler, htdocs/index.py, served by mod_python.publisher.
INDEX_PY = '''\
"""Published by mod_python.publisher: /index.py/hello?name=you calls
hello(req, name="you"); / calls index(req)."""


def index(req):
    # PythonOption greeting TEXT (in conf/httpd_conf.py) changes it
    return req.get_options().get("greeting", "Hello from mod_python!") + "\\n"


def hello(req, name="world"):
    return "Hello, %s!\\n" % name
'''


def conf_path(path):
    """A server's httpd.conf: `path` itself (3.5 took the file), or
    DIR/conf/httpd.conf for a directory made by create."""
    if os.path.isdir(path):
        path = os.path.join(path, "conf", "httpd.conf")
    if not os.path.isfile(path):
        raise CliError("no configuration %r (make one with: mod_python create DIR)" % path)
    return os.path.abspath(path)


def cmd_version(args):
    httpd = find_httpd()
    r = subprocess.run([httpd, "-v"], capture_output=True, text=True, env=httpd_env())
    line = next((s for s in r.stdout.splitlines() if "version" in s.lower()), "?")
    try:
        module = find_module()
    except CliError as e:
        module = "(%s)" % e
    print("mod_python:  %s" % mod_python.mp_version)
    print("             %s" % module)
    print("python:      %s" % "".join(sys.version.splitlines()))
    print("             %s (the module embeds %s)" % (sys.executable, version.PYTHON_BIN))
    print("httpd:       %s" % line.split(":", 1)[-1].strip())
    print("             %s" % httpd)
    print("apr:         %s" % version.APR_VERSION)
    print("platform:    %s" % platform.platform())
    return 0


def _genconfig_text(script):
    """What a 3.5 config script (conf/httpd_conf.py) prints."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        runpy.run_path(script, run_name="__main__")
    return out.getvalue()


def cmd_genconfig(args):
    script = args.src
    if os.path.isdir(script):
        script = os.path.join(script, "conf", "httpd_conf.py")
    if not os.path.isfile(script):
        raise CliError("no config script %r (mod_python create makes one)" % script)
    text = _genconfig_text(script)
    if args.write:
        dest = os.path.join(os.path.dirname(os.path.abspath(script)), "httpd.conf")
        with open(dest, "w") as f:
            f.write(text)
        print("Wrote %s." % dest, file=sys.stderr)
    else:
        sys.stdout.write(text)
    return 0


def cmd_create(args):
    dest = os.path.abspath(args.dir)
    user = run_user(args.user)
    script = httpdconf.write_basic_config(
        dest, listen=args.listen, htdocs="htdocs", pythonhandler=args.pythonhandler,
        pythonpath=[p for p in args.pythonpath.split(":") if p],
        pythonoptions=args.pythonoption, mpm=args.mpm, mod_python_so=find_module(),
        user=user and user.pw_name, group=user and _group_name(user),
        replace_config=args.force,
        mp_comments=['PythonOption mod_python.wsgi.base_uri ""']
        if args.pythonhandler == "mod_python.wsgi" else [])
    if script is None:
        return 1
    _add_runtime_dir(script, os.path.join(dest, "logs"))
    index = os.path.join(dest, "htdocs", "index.py")
    if args.pythonhandler == "mod_python.publisher" and not os.path.exists(index):
        with open(index, "w") as f:
            f.write(INDEX_PY)
    with open(os.path.join(dest, "conf", "httpd.conf"), "w") as f:
        f.write(_genconfig_text(script))
    # whatever the umask, httpd's children (www-data when started as
    # root) read the tree
    for d in ("", "conf", "htdocs", "logs"):
        os.chmod(os.path.join(dest, d), 0o755)
    if os.path.exists(index):
        os.chmod(index, 0o644)
    print("Created %s: conf/httpd.conf (from conf/httpd_conf.py: edit that, then\n"
          "  mod_python genconfig %s --write), htdocs/, logs/.\n"
          "Start it with: mod_python start %s" % (dest, dest, dest))
    return 0


# Appended to create's conf/httpd_conf.py (3.5's script, which has
# neither): httpd's runtime files and mutexes in logs/, not in the
# compiled-in /var/run/apache2 that only root may write.
RUNTIME_DIR = """
# mod_python create: runtime files and mutexes beside the logs.
config.append(Container(Directive("DefaultRuntimeDir", {logs!r}),
                        Directive("Mutex", "file:" + {logs!r} + " default")))
"""


def _add_runtime_dir(script, logs):
    with open(script) as f:
        text = f.read()
    head, sep, tail = text.rpartition("\nprint(config)")
    with open(script, "w") as f:
        f.write(head + RUNTIME_DIR.format(logs=logs) + sep + tail)


def _group_name(user):
    import grp
    return grp.getgrgid(user.pw_gid).gr_name


def _ctl(conf, action):
    r = subprocess.run([find_httpd(), "-f", conf, "-k", action], env=httpd_env(),
                       capture_output=True, text=True)
    sys.stderr.write(r.stdout + r.stderr)
    if r.returncode != 0:
        raise CliError("httpd -k %s failed (status %d)" % (action, r.returncode))


def _directives(conf):
    """The main server's one-argument directives of a configuration
    (lines not indented, as httpdconf writes them): name -> value."""
    found = {}
    with open(conf) as f:
        for line in f:
            words = line.split()
            if len(words) == 2 and not line[0].isspace():
                found.setdefault(words[0], words[1].strip('"'))
    return found


def _pid_file(conf):
    """The PidFile a configuration names (relative to its ServerRoot)."""
    d = _directives(conf)
    if "PidFile" not in d:
        raise CliError("%s names no PidFile: cannot tell when httpd has stopped" % conf)
    return os.path.join(d.get("ServerRoot", ""), d["PidFile"])


def _alive(pidfile):
    try:
        with open(pidfile) as f:
            os.kill(int(f.read().strip()), 0)
        return True
    except (OSError, ValueError):
        return False


def _starting(conf):
    """Whether an `httpd -f conf -k start` process is still there."""
    argv = b"\0-f\0" + conf.encode() + b"\0-k\0start\0"
    for d in os.listdir("/proc"):
        try:
            with open("/proc/%s/cmdline" % d, "rb") as f:
                if argv in f.read():
                    return True
        except OSError:
            pass
    return False


def cmd_start(args):
    conf = conf_path(args.dir)
    d = _directives(conf)
    if os.geteuid() == 0 and "User" in d and os.path.isdir(d.get("DocumentRoot", "")):
        # the children (User) serve the DocumentRoot
        check_readable(run_user(d["User"]), [d["DocumentRoot"]], "the DocumentRoot")
    pidfile = _pid_file(conf)
    if _alive(pidfile):
        raise CliError("httpd is already running (pid file %s)" % pidfile)
    _ctl(conf, "start")
    # -k start returns once httpd has detached, and it may still fail
    # after (in post_config): wait for its pid file, while it is starting
    deadline = time.time() + 30
    while not _alive(pidfile) and _starting(conf) and time.time() < deadline:
        time.sleep(0.05)
    if not _alive(pidfile):
        raise CliError("httpd did not start: see its error log (ErrorLog in %s)" % conf)
    print("Started httpd with %s." % conf)
    return 0


def cmd_stop(args):
    conf = conf_path(args.dir)
    pidfile = _pid_file(conf)
    if not _alive(pidfile):
        raise CliError("httpd is not running (no live pid in %s)" % pidfile)
    _ctl(conf, "stop")
    deadline = time.time() + 30
    while _alive(pidfile):
        if time.time() > deadline:
            raise CliError("httpd did not stop within 30 s (pid file %s)" % pidfile)
        time.sleep(0.05)
    print("Stopped httpd of %s." % conf)
    return 0


def cmd_restart(args):
    conf = conf_path(args.dir)
    _ctl(conf, "graceful")
    print("Restarted httpd with %s (graceful)." % conf)
    return 0


def _address(host, port):
    """host:port as httpd's Listen and URLs write it ([::1]:8000)."""
    return ("[%s]:%d" if ":" in host else "%s:%d") % (host, port)


def serve_config(args, tmp, httpd):
    """The configuration text of `serve`, and the paths httpd must read."""
    user = run_user(args.user)
    docroot, section, paths = serveconf.target_section(args.target, args.wsgi,
                                                       args.reload)
    check_readable(user, paths, "the target")
    check_readable(user, [os.path.dirname(os.path.abspath(mod_python.__file__))],
                   "the mod_python package")
    threads = args.threads or 10
    # the main server's interpreter is named after its ServerName
    server_name = "localhost" if ":" in args.host else args.host   # IPv6: no address
    # --no-reload: nothing is checked again, not even import_module(autoreload=True)
    freeze = "" if args.reload else \
        "PythonImport mod_python.apache::freeze_modules %s" % server_name
    processes = args.processes or (4 if args.mpm == "prefork" else 1)
    return serveconf.CONFIG.format(
        tmp=tmp, listen=_address(args.host, args.port),
        server_name=server_name, freeze=freeze,
        user="User %s\nGroup %s" % (user.pw_name, _group_name(user)) if user else "",
        loads="\n".join(load_lines(httpd, ("mpm_" + args.mpm,) + serveconf.SERVE_MODULES)),
        module=find_module(),
        mpm_settings=serveconf.mpm_settings(args.mpm, processes, threads),
        mime_types=serveconf.mime_types(), docroot=docroot, section=section)


def cmd_serve(args):
    httpd = find_httpd()
    if not 0 < args.port < 65536:
        raise CliError("--port %d is not a port number" % args.port)
    for name in ("processes", "threads"):
        if getattr(args, name) is not None and getattr(args, name) < 1:
            raise CliError("--%s must be at least 1" % name)
    check_port(args.host, args.port)
    tmp = tempfile.mkdtemp(prefix="mod_python-serve-")
    try:
        # httpd's children (www-data when we are root) may open the mutex
        # files in it again (flock mutexes do)
        os.chmod(tmp, 0o755)
        conf = os.path.join(tmp, "httpd.conf")
        with open(conf, "w") as f:
            f.write(serve_config(args, tmp, httpd))
        print("mod_python serve: configuration in %s" % tmp, file=sys.stderr, flush=True)
        banner = "mod_python serve: serving %s at http://%s/ (reload %s); Ctrl-C stops" % (
            os.path.abspath(args.target), _address(args.host, args.port),
            "on" if args.reload else "off")
        status = run_foreground(httpd, conf, args.host, args.port, banner)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if status != 0:
        raise CliError("httpd exited with status %d (its messages are above)" % status)
    print("mod_python serve: stopped", file=sys.stderr)
    return 0


def _parser():
    p = argparse.ArgumentParser(prog="mod_python", description=(
        "Create, start and stop mod_python servers, or serve a handler, a directory "
        "of publisher modules and PSP pages, or a WSGI application in one command."))
    sub = p.add_subparsers(dest="command", metavar="COMMAND", required=True)
    c = sub.add_parser("create", help="a server skeleton in DIR (conf/, htdocs/, logs/)")
    c.add_argument("dir", metavar="DIR")
    c.add_argument("--listen", default="127.0.0.1:8888", help="Listen (default %(default)s)")
    c.add_argument("--pythonhandler", default="mod_python.publisher",
                   help="the PythonHandler (default %(default)s)")
    c.add_argument("--pythonpath", default="", help="directories added to sys.path, ':'-separated")
    c.add_argument("--pythonoption", action="append", default=[], metavar="'KEY VALUE'")
    c.add_argument("--mpm", choices=MPMS, default="event")
    c.add_argument("--user", help="the children's user when started as root (default www-data)")
    c.add_argument("--force", action="store_true", help="replace an existing conf/httpd_conf.py")
    for name, text in (("start", "start httpd on DIR/conf/httpd.conf"),
                       ("stop", "stop that httpd, and wait until it has exited"),
                       ("restart", "restart that httpd gracefully")):
        s = sub.add_parser(name, help=text)
        s.add_argument("dir", metavar="DIR", help="a directory made by create, or an httpd.conf")
    g = sub.add_parser("genconfig", help="print the config that DIR/conf/httpd_conf.py makes")
    g.add_argument("src", metavar="DIR|SCRIPT")
    g.add_argument("--write", action="store_true", help="write it to conf/httpd.conf instead")
    sub.add_parser("version", help="versions of mod_python, Python, httpd; the module's path")
    _serve_parser(sub)
    return p


def _serve_parser(sub):
    s = sub.add_parser("serve", help="serve TARGET with httpd in the foreground")
    s.add_argument("target", nargs="?", default=".", metavar="TARGET", help=(
        "a .py file defining handler(req), or a directory of publisher modules (.py) "
        "and PSP pages (.psp); with --wsgi, the application's directory (default .)"))
    s.add_argument("--port", type=int, default=8000, metavar="N", help="default %(default)s")
    s.add_argument("--host", default="127.0.0.1", metavar="ADDRESS",
                   help="address to listen on (default %(default)s)")
    s.add_argument("--mpm", choices=MPMS, default="event")
    s.add_argument("--reload", action=argparse.BooleanOptionalAction, default=True,
                   help="run edited code on the next request (default on)")
    s.add_argument("--wsgi", metavar="MODULE::CALLABLE",
                   help="serve this WSGI application (app.py::application, mysite.wsgi)")
    s.add_argument("--processes", type=int, metavar="N", help="children (default 1; prefork 4)")
    s.add_argument("--threads", type=int, metavar="N", help="threads per child (default 10)")
    s.add_argument("--user", metavar="NAME",
                   help="the children's user when run as root (default www-data, else nobody)")


def main(argv=None):
    args = _parser().parse_args(argv)
    try:
        return globals()["cmd_" + args.command](args)
    except CliError as e:
        print("mod_python %s: %s" % (args.command, e), file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
