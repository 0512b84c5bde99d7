"""The demo's publisher site: every public function is a page
(/site/index.py/NAME), its arguments come from the form.  Edit this file
and reload: the next request runs the new code."""
import hashlib
import html

from mod_python import Session

STYLE = "<style>body{font-family:sans-serif;max-width:40em;margin:2em auto}</style>"


def _page(title, body):
    return "<!doctype html><title>%s</title>%s<h1>%s</h1>%s" % (title, STYLE, title, body)


def _session(req):
    return Session.Session(req)


def index(req):
    s = _session(req)
    who = s.get("user")
    s.save()
    return _page("mod_python publisher demo", """
      <p>%s</p>
      <form action="greet" method="post">Your name: <input name="name">
        <button>Greet</button></form>
      <form action="upload" method="post" enctype="multipart/form-data">
        <input type="file" name="file"> <button>Upload</button></form>
      <form action="login" method="post">User: <input name="user">
        Password: <input name="password" type="password"> <button>Log in</button>
        (any user, password <code>demo</code>)</form>
      <p><a href="logout">Log out</a> &middot; <a href="../page.psp">a PSP page</a></p>
    """ % ("Logged in as <b>%s</b>." % html.escape(who) if who else "Not logged in."))


def greet(req, name="stranger"):
    return _page("Hello", "<p>Hello, %s!</p><p><a href='index'>back</a></p>"
                 % html.escape(name))


def upload(req, file):
    data = file.file.read()
    return _page("Uploaded", "<p>%s: %d bytes, sha256 %s</p><p><a href='index'>back</a></p>"
                 % (html.escape(file.filename or "?"), len(data),
                    hashlib.sha256(data).hexdigest()))


def login(req, user, password):
    s = _session(req)
    if password == "demo" and user:
        s["user"] = user
        s.save()
        msg = "Welcome, %s." % html.escape(user)
    else:
        msg = "Wrong password."
    return _page("Log in", "<p>%s</p><p><a href='index'>back</a></p>" % msg)


def logout(req):
    s = _session(req)
    s.invalidate()
    return _page("Logged out", "<p><a href='index'>back</a></p>")
