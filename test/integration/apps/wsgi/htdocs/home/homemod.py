"""Named ~/homemod.py: relative to the PythonHandler's <Directory>."""


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"homemod"]
