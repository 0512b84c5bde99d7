from mod_python import apache
def one(req):
    req.content_type = "text/plain"
    req.write("one;")
    return apache.OK
def two(req):
    req.write("two;")
    return apache.OK
def decline(req):
    req.write("decline;")
    return apache.DECLINED
class Obj:
    def method(self, req):
        req.write("method;")
        return apache.OK
obj = Obj()
