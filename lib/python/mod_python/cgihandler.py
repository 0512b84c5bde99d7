"""mod_python.cgihandler: run CGI scripts written in Python inside httpd,
as mod_python 3.5 did.

    <Directory /srv/cgi>
        SetHandler mod_python
        PythonHandler mod_python.cgihandler
    </Directory>

The requested file (or SCRIPT_FILENAME when set) runs as __main__ with the
request as its stdin, stdout and os.environ (apache.setup_cgi), in its
directory.  Each run starts from the file: it is compiled again when it
changed (by mtime, size and inode), so editing a script takes effect on
the next request.  Modules the script imports are the standard import's.

One script runs at a time in an interpreter: stdin, stdout, os.environ and
the working directory are the interpreter's (the process's, for the
directory), as for 3.5.  A script that calls sys.exit() ends normally.
"""
import os
import sys
import threading

from . import apache

_lock = threading.Lock()
_code = {}       # path -> ((mtime_ns, size, inode), code object)


def _compiled(path):
    st = os.stat(path)
    key = (st.st_mtime_ns, st.st_size, st.st_ino)
    hit = _code.get(path)
    if hit and hit[0] == key:
        return hit[1]
    with open(path, "rb") as f:
        code = compile(f.read(), path, "exec")
    _code[path] = (key, code)
    return code


def _script(req):
    path = req.subprocess_env.get("script_filename") or req.filename
    if not path or not os.path.isfile(path):
        raise apache.SERVER_RETURN(apache.HTTP_NOT_FOUND)
    return path


def _run(code, path):
    try:
        exec(code, {"__name__": "__main__", "__file__": path,
                    "__builtins__": __builtins__})
    except SystemExit as e:
        if e.code not in (None, 0):
            raise


def handler(req):
    path = _script(req)
    with _lock:
        code = _compiled(path)
        cwd = os.getcwd()
        saved = apache.setup_cgi(req)
        out = sys.stdout
        try:
            os.chdir(os.path.dirname(path))
            _run(code, path)
            out.close_response()
        finally:
            apache.restore_nocgi(saved)
            os.chdir(cwd)
    return apache.OK
