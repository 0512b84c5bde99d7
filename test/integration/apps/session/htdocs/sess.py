"""Sessions as a mod_python 3.5 application uses them.  ?action=NAME runs
do_NAME(req, sess, query) with the session the directory's options make
(its `secret` option passed as the secret), and answers the session's
state as JSON."""
import json
import os
import time
import urllib.parse

from mod_python import apache, Session


def state(req, sess, **extra):
    d = {"id": sess.id(), "new": sess.is_new(), "type": type(sess).__name__,
         "data": {k: v for k, v in sess.items() if isinstance(v, (int, str))},
         "created": sess.created(), "accessed": sess.last_accessed(),
         "timeout": sess.timeout(), "pid": os.getpid()}
    d.update(extra)
    return d


def make(req, **kw):
    return Session.Session(req, secret=req.get_options().get("secret"), **kw)


def do_show(req, sess, q):
    return state(req, sess)


def do_incr(req, sess, q):
    """A read-modify-write with a pause in the middle: without the
    session lock, requests running at once lose updates."""
    n = sess.get("n", 0)
    time.sleep(float(q.get("pause", "0")))
    sess["n"] = n + 1
    sess.save()
    return state(req, sess)


def do_put(req, sess, q):
    sess["values"] = {"set": {1, 2}, "bytes": b"\x00\xff", "tuple": (1, "a"),
                      "nested": [{"x": 1.5}], "none": None}
    sess["n"] = 1
    sess.save()
    return state(req, sess)


def do_values(req, sess, q):
    return state(req, sess, values=repr(sess.get("values")))


def do_short(req, sess, q):
    sess.set_timeout(int(q["t"]))
    sess.save()
    return state(req, sess)


def do_invalidate(req, sess, q):
    sess.invalidate()
    sess.save()          # does nothing after invalidate()
    return state(req, sess)


def do_cleanup(req, sess, q):
    sess.save()
    sess.cleanup()       # runs when the request ends
    return state(req, sess)


def do_unpicklable(req, sess, q):
    sess["f"] = lambda: 1
    sess.save()
    return state(req, sess)


def do_cookie(req, sess, q):
    c = sess.make_cookie()
    return state(req, sess, path=c.path, directory=req.hlist.directory,
                 docroot=req.document_root())


def do_twice(req, sess, q):
    """A second Session object of the same session in the same request
    (3.5 waited for itself for ever on a threaded MPM)."""
    sess["n"] = sess.get("n", 0) + 1
    sess.save()
    other = make(req)
    return state(req, sess, other=other.id(), other_n=other.get("n"))


def do_stored(req, sess, q):
    """Whether the store still holds session `sid` (expired or not)."""
    sid, t = q["sid"], type(sess)
    if t is Session.MemorySession:
        found = sid in Session.MemorySession.sdict
    elif t is Session.FileSession:
        found = os.path.exists(Session._session_file(sess._sessdir, sid))
    else:
        found = _dbm_has(sess, sid)
    return state(req, sess, found=found)


def _dbm_has(sess, sid):
    with sess._db() as db:
        return sid.encode() in db


def handler(req):
    q = dict(urllib.parse.parse_qsl(req.args or ""))
    action = q.get("action", "show")
    if action == "explicit":
        sess = make(req, sid=q["sid"])
    elif action == "chance":
        # 3.5's periodic cleanup, made certain for the test
        old, Session.CLEANUP_CHANCE = Session.CLEANUP_CHANCE, 1
        try:
            sess = make(req)
        finally:
            Session.CLEANUP_CHANCE = old
    elif action == "plain":
        # the factory's default arguments, as most 3.5 applications call it
        sess = Session.Session(req)
    else:
        sess = make(req)
    req.session = sess
    out = globals()["do_" + ("show" if action in ("explicit", "chance", "plain")
                             else action)](req, sess, q)
    req.content_type = "application/json"
    req.write(json.dumps(out))
    return apache.OK
