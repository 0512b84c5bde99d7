def index(req):
    return "ext index of %s" % req.filename.rsplit("/", 1)[1]


def show(req):
    return "ext show %s" % (req.extension,)
