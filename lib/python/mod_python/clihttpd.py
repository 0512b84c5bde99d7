"""What the `mod_python` command (mod_python.cli) needs to know about httpd
and this machine: where httpd and our module are, which modules httpd has
built in, whether a port is free, who httpd's children run as and whether
they can read a tree, the environment httpd starts with, and running it
in the foreground until a signal.

Every failure the user can fix is a CliError: one line, no traceback.
"""
import errno
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import mod_python
from mod_python import version

# httpd gets a clean PATH: a pyenv `python3` first on the user's PATH must
# not be the one the module's Python finds.
CLEAN_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
# Where httpd is looked for when the build's HTTPD is not there.
HTTPD_NAMES = ("apache2", "httpd")
# The unprivileged users httpd's children become when started as root.
RUN_USERS = ("www-data", "nobody")


class CliError(Exception):
    """A problem the user can fix: printed as one line, exit status 1."""


def _apxs(var):
    """`apxs -q var`, or "" when there is no apxs (or it fails)."""
    for name in ("apxs", "apxs2"):
        exe = shutil.which(name, path=os.environ.get("PATH", "") + ":" + CLEAN_PATH)
        if exe:
            r = subprocess.run([exe, "-q", var], capture_output=True, text=True)
            if r.returncode == 0 and r.stdout.strip():
                return r.stdout.strip()
    return ""


def _httpd_candidates():
    """Where httpd may be, best first (apxs is asked only when needed)."""
    yield version.HTTPD
    sbindir, target = _apxs("SBINDIR"), _apxs("TARGET")
    if sbindir and target:
        yield os.path.join(sbindir, target)
    for name in HTTPD_NAMES:
        yield shutil.which(name, path=CLEAN_PATH) or ""


def find_httpd():
    """The httpd this mod_python was built for (configure's HTTPD), else
    the one apxs names, else apache2/httpd on a clean PATH."""
    for c in _httpd_candidates():
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    raise CliError("cannot find httpd: not at %r (configure's HTTPD), and neither apxs "
                   "nor the PATH names one (install apache2, or apache2-dev for apxs)"
                   % version.HTTPD)


def modules_dir():
    """httpd's module directory (its MPMs...): apxs's LIBEXECDIR as
    configure found it, else as apxs says now.  mod_python.so itself may
    be installed elsewhere (configure --with-apache-moddir)."""
    known = getattr(version, "HTTPD_LIBEXECDIR", "")
    if known and os.path.isdir(known):
        return known
    d = _apxs("LIBEXECDIR")
    if d and os.path.isdir(d):
        return d
    raise CliError("cannot find httpd's module directory: not at %r (apxs -q LIBEXECDIR "
                   "when configured) and apxs does not name one (install apache2-dev)"
                   % known)


def find_module():
    """mod_python.so: $MOD_PYTHON_SO (the build-tree launcher sets it), else
    the installed one in httpd's module directory."""
    path = os.environ.get("MOD_PYTHON_SO")
    if path:
        where = "$MOD_PYTHON_SO"
    else:
        path = os.path.join(version.LIBEXECDIR or modules_dir(), "mod_python.so")
        where = "the module directory (make install puts it there)"
    if not os.path.isfile(path):
        raise CliError("cannot find the mod_python module: no file %r (%s); build it "
                       "with make, install it with make install" % (path, where))
    return os.path.abspath(path)


def built_in_modules(httpd):
    """Names (log_config, unixd...) of the modules compiled into httpd:
    LoadModule of one of them would stop httpd."""
    r = subprocess.run([httpd, "-l"], capture_output=True, text=True,
                       env={"PATH": CLEAN_PATH})
    names = set()
    for line in r.stdout.splitlines():
        line = line.strip()
        if line.startswith("mod_") and line.endswith(".c"):
            names.add(line[4:-2])
        elif line in ("prefork.c", "worker.c", "event.c"):
            names.add("mpm_" + line[:-2])
    return names


def load_lines(httpd, names):
    """LoadModule lines for modules `names` that httpd does not have built
    in.  A module that is neither built in nor a file is an error: the
    server would not work without it."""
    built_in = built_in_modules(httpd)
    mdir = None
    lines = []
    for name in names:
        if name in built_in:
            continue
        mdir = mdir or modules_dir()
        path = os.path.join(mdir, "mod_%s.so" % name)
        if not os.path.isfile(path):
            raise CliError("httpd has no %s module: no file %r" % (name, path))
        lines.append("LoadModule %s_module %s" % (name, path))
    return lines


def check_port(host, port):
    """Fail now, with a clear message, if httpd could not listen there."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        # httpd sets it too: a port left in TIME_WAIT is free for it
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as e:
            if e.errno == errno.EADDRINUSE:
                raise CliError("port %d on %s is already in use (choose another with "
                               "--port)" % (port, host))
            if e.errno == errno.EACCES:
                raise CliError("port %d on %s needs root (ports below 1024); choose "
                               "another with --port" % (port, host))
            raise CliError("cannot listen on %s port %d: %s" % (host, port, e.strerror))
        except (socket.gaierror, OverflowError) as e:
            raise CliError("cannot listen on %s port %d: %s" % (host, port, e))


def run_user(name=None):
    """The user httpd's children become, a pwd entry; None when we are not
    root (httpd then runs as us)."""
    if os.geteuid() != 0:
        return None
    for n in ([name] if name else RUN_USERS):
        try:
            return pwd.getpwnam(n)
        except KeyError:
            pass
    raise CliError("running as root, and there is no user %s for httpd's children "
                   "(give one with --user)" % " or ".join([name] if name else RUN_USERS))


def unreadable_by(user, paths):
    """Those of `paths` that `user` cannot read (directories: list and
    enter), checked in a child that has become that user."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        try:
            os.close(r)
            os.setgroups([])
            os.setgid(user.pw_gid)
            os.setuid(user.pw_uid)
            bad = [p for p in paths
                   if not os.access(p, os.R_OK | (os.X_OK if os.path.isdir(p) else 0))]
            os.write(w, "\0".join(bad).encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        data = f.read().decode()
    os.waitpid(pid, 0)
    return data.split("\0") if data else []


def check_readable(user, paths, what):
    """Fail if httpd's children (`user`, when root) cannot read `paths`."""
    if user is None:
        return
    bad = unreadable_by(user, paths)
    if bad:
        raise CliError("httpd's children run as %s (you are root), and %s cannot read "
                       "%s %r: make it readable (chmod o+r, and o+x on the directories "
                       "above it)" % (user.pw_name, user.pw_name, what, bad[0]))


def package_parent():
    """The directory holding the mod_python package this command runs:
    httpd's Python must import the same one."""
    return os.path.dirname(os.path.dirname(os.path.abspath(mod_python.__file__)))


def httpd_env():
    """httpd's environment: a clean PATH, and our package on PYTHONPATH
    (needed from a build tree, harmless when installed)."""
    return {"PATH": CLEAN_PATH, "PYTHONPATH": package_parent(),
            "LANG": os.environ.get("LANG") or "C.UTF-8"}


def _wait_listening(proc, host, port, timeout=30):
    """True once httpd accepts connections, False if it exited first."""
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None:
        try:
            with socket.create_connection((host, port), timeout=1):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def _die_with_parent():
    """In httpd's parent (preexec): stop it if this command is killed
    without a chance to stop it (SIGKILL)."""
    try:
        import ctypes
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _relay(src, fd):
    """Copy what httpd writes to pipe `src` to our descriptor `fd`."""
    while True:
        data = os.read(src.fileno(), 65536)
        if not data:
            return
        try:
            os.write(fd, data)
        except OSError:
            pass    # our output is gone (a closed pipe): keep draining


def run_foreground(httpd, conf, host, port, banner):
    """Run httpd -DFOREGROUND on `conf` until it exits or we get SIGINT,
    SIGTERM or SIGHUP, which stop it (SIGTERM: its children are stopped
    and waited for).  httpd is in its own session, so a Ctrl-C reaches us
    only, and we stop it in order.  Its logs are /dev/stdout and
    /dev/stderr: pipes from us, which httpd can always open again (unlike
    a socket, or a terminal or file of another user's), copied to ours.
    Returns httpd's exit status, 0 when we stopped it."""
    procs, stopping = [], []

    def stop(signum, frame):
        stopping.append(signum)
        for proc in procs:
            try:
                proc.send_signal(signal.SIGTERM)
            except ProcessLookupError:
                pass

    # before httpd starts: a signal from then on stops it in order
    old = {s: signal.signal(s, stop) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)}
    relays = []
    try:
        if stopping:
            return 0
        procs.append(subprocess.Popen(
            [httpd, "-f", conf, "-DFOREGROUND"], env=httpd_env(), start_new_session=True,
            preexec_fn=_die_with_parent, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
        proc = procs[0]
        relays = [threading.Thread(target=_relay, args=(pipe, fd), daemon=True)
                  for pipe, fd in ((proc.stdout, 1), (proc.stderr, 2))]
        for t in relays:
            t.start()
        if _wait_listening(proc, host, port) and not stopping:
            print(banner, file=sys.stderr, flush=True)
        status = proc.wait()
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        for t in relays:
            # until the children (which hold the pipes too) are gone
            t.join(timeout=10)
    return 0 if stopping else status
