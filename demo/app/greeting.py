# Edit me, save, and reload the page.
def message(req):
    return "Hello from mod_python, %s!" % req.useragent_ip
