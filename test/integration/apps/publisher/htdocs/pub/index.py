"""The directory's default module: /pub/ and /pub/<name> when there is no
<name>.py."""


def index(req):
    return "pub index"


def other(req, x="none"):
    return "index other x=%s" % x


class _Section:
    def page(self):
        return "index section page"


section = _Section()
