"""Served with mod_python.wsgi.reload On (/pkg) and with PythonAutoReload
Off beside it (/pkgoff); the tests edit VERSION."""
from . import part

VERSION = "r1"


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [("%s/%s" % (VERSION, part.VERSION)).encode()]
