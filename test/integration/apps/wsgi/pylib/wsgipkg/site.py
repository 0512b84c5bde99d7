"""A module of a package on sys.path (PythonPath): the standard import."""


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [("%s %s" % (__name__, environ["SCRIPT_NAME"])).encode()]
