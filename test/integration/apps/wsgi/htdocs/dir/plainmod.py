"""Found by its plain name beside the PythonHandler's <Directory>."""


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"plainmod ", "__mp_info__" in globals() and b"managed" or b"sys.path"]
