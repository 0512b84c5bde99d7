from mod_python import apache
def handler(req):
    first = req.readline()
    rest = req.readlines()
    more = req.read()
    req.content_type = "text/plain"
    req.write(b"%d|%s|%d|%d" % (len(first), first.strip(), len(rest), len(more)))
    return apache.OK
