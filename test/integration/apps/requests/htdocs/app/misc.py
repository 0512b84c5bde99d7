
import os  # test_misc_methods expects these first 10 bytes: keep the blank line
from mod_python import apache
def cleanup(data):
    with open(data, "a") as f:
        f.write("registered cleanup ran\n")
def handler(req):
    req.register_cleanup(cleanup, req.get_options()["logfile"])
    req.content_type = "text/plain"
    n = req.sendfile(__file__, 0, 10)
    req.write("|sent %d" % n)
    req.log_error("misc handler says hi", apache.APLOG_ERR)
    return apache.OK
def redirect(req):
    req.internal_redirect("/app/hello")
    return apache.OK
def add(req):
    req.content_type = "text/plain"
    req.write("first;")
    req.add_handler("PythonHandler", "stack::two", os.path.dirname(__file__))
    return apache.OK
def bad_attrs(req):
    errors = []
    for attr, value in (("status", "x"), ("status", 2 ** 40), ("uri", 5),
                        ("content_type", "a\nb"), ("method", "PUT"),
                        ("user", "\ud800")):
        try:
            setattr(req, attr, value)
            errors.append("accepted %s=%r" % (attr, value))
        except (TypeError, ValueError, AttributeError):
            pass
    req.content_type = "text/plain"
    req.write(";".join(errors) or "all refused")
    return apache.OK
def write_args(req):
    req.content_type = "text/plain"
    refused = 0
    for call in (lambda: req.write(5), lambda: req.write(), lambda: req.write("a", 0, 1),
                 lambda: req.write("a", "x"), lambda: req.set_content_length("5"),
                 lambda: req.set_content_length(-1)):
        try:
            call()
        except (TypeError, ValueError):
            refused += 1
    req.write("\u20ac|", 0)
    req.write(b"b|", 1)
    req.write(bytearray(b"ba|"), False)
    req.write(memoryview(b"mv|"))
    req.write("")
    req.write("refused %d" % refused)
    return apache.OK
def __getattr__(name):
    # a module-level __getattr__ (PEP 562) still supplies handlers
    if name == "dynamic":
        def dynamic(req):
            req.content_type = "text/plain"
            req.write("dynamic")
            return apache.OK
        return dynamic
    raise AttributeError(name)
