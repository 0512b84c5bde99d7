"""module::Class.method: 3.5 made Class(req) first."""
from mod_python import apache

made = []


class Page:
    def __init__(self, req):
        self.uri = req.uri
        made.append(1)

    def render(self, req):
        req.content_type = "text/plain"
        req.write("rendered %s for %s, instances %d" % (type(self).__name__, self.uri, len(made)))
        return apache.OK
