"""mod_python.Session: sessions kept across requests, as mod_python 3.5
had them.

A session is a dict, tied to the client by a cookie holding its id
(`pysid` by default), kept in one of three stores:

  * DbmSession: one dbm file shared by every process (the default for
    forked MPMs);
  * FileSession: one pickle file per session, under a directory;
  * MemorySession: a dict in the process (the default for a single
    threaded process: it is not shared between processes).

Session(req) makes one of the class the configuration asks for.  A
session is loaded when made and saved only by save().  While a request
uses a session it holds that session's lock, one of the global locks of
_apache (shared by every process and thread of the server), from the
load until the request ends: a second request of the same session waits
for it, so that two requests at once never lose an update.

Session ids are 32 hex digits from the secrets module; an id in a cookie
that is not of that form is ignored (the client gets a new session).
With a `secret`, the cookie is a SignedCookie and a cookie whose
signature does not match is ignored too.  Stored records are 3.5's
({"_data", "_created", "_accessed", "_timeout"}, pickled), so sessions
written by mod_python 3.5 on Python 3 are read.
"""
import dbm
import hashlib
import os
import pickle
import random
import re
import secrets
import stat
import tempfile
import threading
import time
import traceback

import _apache
from . import apache, Cookie

COOKIE_NAME = "pysid"
DFT_TIMEOUT = 30 * 60          # seconds
DFT_LOCK = True
CLEANUP_CHANCE = 1000          # a new Session runs cleanup() 1 time in this

tempdir = tempfile.gettempdir()

# Exactly 32 lower-case hex digits (\Z: not even a trailing newline): a
# session id becomes a file name in FileSession.
validate_sid_re = re.compile(r"[0-9a-f]{32}\Z")


def md5_hash(s):
    """The MD5 hex digest of `s` (a str is taken as Latin-1): 3.5's
    helper, kept for applications that call it; ids no longer use it."""
    if isinstance(s, str):
        s = s.encode("latin-1")
    return hashlib.md5(s).hexdigest()


def _new_sid(req=None):
    """A new session id: 128 bits from the operating system's
    cryptographic source, as 32 hex digits (the form 3.5's had)."""
    return secrets.token_hex(16)


def _check_sid(sid):
    """True if `sid` has the form of a session id."""
    return isinstance(sid, str) and validate_sid_re.match(sid) is not None


# ------------------------------------------------------------ options

def _option(opts, names, default=None):
    """The value of the first of `names` set in `opts` (a PythonOption
    table): 3.5 read its current option name first, then the name used
    before 3.3."""
    for name in names:
        if name in opts:
            return opts[name]
    return default


def true_or_false(item):
    """A PythonOption value as a bool: yes/true/1 or no/false/0."""
    if isinstance(item, str):
        item = item.strip().lower()
    if item in ("yes", "true", "on", "1", 1, True):
        return True
    if item in ("no", "false", "off", "0", 0, None, False):
        return False
    raise ValueError("not a true or false value: %r" % (item,))


def _bool_option(opts, names, default):
    value = _option(opts, names)
    if value is None:
        return default
    try:
        return true_or_false(value)
    except ValueError:
        raise ValueError("PythonOption %s: %r is not On or Off" % (names[0], value))


def _int_option(opts, names, default):
    value = _option(opts, names)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError("PythonOption %s: %r is not an integer" % (names[0], value))


def _cookie_name(opts):
    return _option(opts, ("mod_python.session.cookie_name", "session_cookie_name"),
                   COOKIE_NAME)


def _log(req, msg, level=apache.APLOG_NOTICE):
    req.log_error(msg, level)


# ------------------------------------------------------------ locks

# The session locks held by this interpreter's requests: sid ->
# [request, count, cookie name].  A request asking again for a lock it
# holds (two Session objects for one id) gets it at once: _global_lock
# would have it wait for itself for ever.
_held = {}
_held_guard = threading.Lock()


def _acquire(req, server, sid, name=None):
    with _held_guard:
        entry = _held.get(sid)
        if entry is not None and entry[0] is req:
            entry[1] += 1
            return
    # Waits with the GIL released, for another request of this session.
    _apache._global_lock(server, sid)
    with _held_guard:
        _held[sid] = [req, 1, name]


def _held_by(req, name):
    """The id of the session `req` holds the lock of under cookie `name`,
    or None."""
    with _held_guard:
        for sid, entry in _held.items():
            if entry[0] is req and entry[2] == name:
                return sid
    return None


def _release(server, sid):
    with _held_guard:
        entry = _held.get(sid)
        if entry is not None:
            entry[1] -= 1
            if entry[1] > 0:
                return
            del _held[sid]
    _apache._global_unlock(server, sid)


def unlock_session_cleanup(sess):
    """The request cleanup that releases a session's lock."""
    sess.unlock()


# ------------------------------------------------------------ BaseSession

class BaseSession(dict):
    """A session: a dict with an id, loaded from its store when made (a
    new one if there is none, or it has expired), written back by save().
    Subclasses store it: do_load(), do_save(record), do_delete() and
    do_cleanup()."""

    def __init__(self, req, sid=None, secret=None, lock=1, timeout=0):
        dict.__init__(self)
        self._req, self._sid, self._secret = req, sid, secret
        self._server = req.server
        opts = req.get_options()
        self._lock = bool(lock) and _bool_option(opts, ("mod_python.session.lock",), DFT_LOCK)
        self._new = True
        self._created = self._accessed = self._timeout = 0
        self._locked = False
        self._invalid = False
        if not timeout:
            timeout = _int_option(opts, ("mod_python.session.timeout",), DFT_TIMEOUT)

        self._cookie_name = _cookie_name(opts)
        adopted = self._choose_sid()
        self.init_lock()
        self._load_or_create(timeout, adopted)
        self._accessed = time.time()

        if random.randint(1, CLEANUP_CHANCE) == 1:
            self.cleanup()

    def _choose_sid(self):
        """Settle the id to load: the caller's (ValueError if malformed),
        else the session this request already holds under this cookie
        name (True is returned then), else the cookie's."""
        if self._sid:
            if not _check_sid(self._sid):
                raise ValueError("Invalid Session ID: sid=%s" % (self._sid,))
            return False
        # The second Session(req) of a request is the first one's session,
        # even a new one whose cookie is not sent yet (3.5 made another,
        # whose lock could be the one this request held: it waited for
        # ever).
        self._sid = _held_by(self._req, self._cookie_name)
        if self._sid:
            return True
        self._sid = self._sid_from_cookie()
        return False

    def _load_or_create(self, timeout, adopted):
        """Lock and load the session; if there is none (or it expired), a
        new one with a new id, its lock, and its cookie in the response."""
        if self._sid:
            self.lock()
            if self.load():
                self._new = False
                return
            if not adopted:
                self.unlock()
        if not adopted:
            self._sid = _new_sid(self._req)
            self.lock()
            Cookie.add_cookie(self._req, self.make_cookie())
        self._created = time.time()
        self._timeout = timeout

    def _sid_from_cookie(self):
        """The id in the request's session cookie, or None when there is
        none, its signature does not match, or it is not an id."""
        name = self._cookie_name
        if self._secret:
            cookie = Cookie.get_cookie(self._req, name, Class=Cookie.SignedCookie,
                                       secret=self._secret, mismatch=Cookie.Cookie.IGNORE)
        else:
            cookie = Cookie.get_cookie(self._req, name)
        if cookie is None or not _check_sid(cookie.value):
            return None
        return cookie.value

    def make_cookie(self):
        """The session cookie: name and domain from the options; path from
        mod_python.session.application_path, else the directory of the
        handler's <Directory> below the document root (or its <Location>),
        else "/"."""
        req = self._req
        opts = req.get_options()
        name = _cookie_name(opts)
        if self._secret:
            c = Cookie.SignedCookie(name, self._sid, secret=self._secret)
        else:
            c = Cookie.Cookie(name, self._sid)
        domain = _option(opts, ("mod_python.session.application_domain",))
        if domain is not None:
            c.domain = domain
        path = _option(opts, ("mod_python.session.application_path", "ApplicationPath"))
        c.path = path if path is not None else self._default_path()
        return c

    def _default_path(self):
        req = self._req
        hl = req.hlist
        where = hl.directory
        if not where:
            return "/"
        if not hl.is_location:
            # a <Directory>: its part below the document root
            root = req.document_root().rstrip("/")
            if not where.startswith(root + "/"):
                return "/"
            where = where[len(root):]
        # an Alias, a UserDir, a regex: the URI is not below it
        if not where or not req.uri.startswith(where):
            return "/"
        return where

    def invalidate(self):
        """End the session: the client's cookie is expired, the record
        deleted and the lock released (nothing of it is left to guard)."""
        c = self.make_cookie()
        c.expires = 0
        Cookie.add_cookie(self._req, c)
        self.delete()
        self._invalid = True
        self.unlock()

    def load(self):
        """Fill the session from its store: False if there is no record or
        it has expired."""
        record = self.do_load()
        if not isinstance(record, dict):
            return False
        try:
            if time.time() - record["_accessed"] > record["_timeout"]:
                return False
            self._created = record["_created"]
            self._accessed = record["_accessed"]
            self._timeout = record["_timeout"]
            self.update(record["_data"])
        except (KeyError, TypeError, ValueError):
            _log(self._req, "Session %s: a malformed record, ignored" % self._sid,
                 apache.APLOG_WARNING)
            self.clear()
            return False
        return True

    def save(self):
        """Write the session to its store (not after invalidate())."""
        if self._invalid:
            return
        self.do_save({"_data": self.copy(), "_created": self._created,
                      "_accessed": self._accessed, "_timeout": self._timeout})

    def delete(self):
        """Remove the record from the store and empty the session."""
        self.do_delete()
        self.clear()

    def init_lock(self):
        """Called before the first lock (a hook for subclasses)."""

    def lock(self):
        """Take this session's global lock, unless locking is off; it is
        released by unlock(), at the latest when the request ends."""
        if self._lock and not self._locked:
            _acquire(self._req, self._server, self._sid, self._cookie_name)
            self._locked = True
            self._req.register_cleanup(unlock_session_cleanup, self)

    def unlock(self):
        if self._lock and self._locked:
            self._locked = False
            _release(self._server, self._sid)

    def is_new(self):
        return self._new

    def id(self):
        return self._sid

    def created(self):
        return self._created

    def last_accessed(self):
        return self._accessed

    def timeout(self):
        return self._timeout

    def set_timeout(self, secs):
        self._timeout = secs

    def cleanup(self):
        """Have the expired sessions of the store removed (when the
        request ends)."""
        self.do_cleanup()

    def do_load(self):
        raise NotImplementedError("BaseSession stores nothing: use a subclass")

    do_save = do_delete = do_cleanup = do_load

    def __del__(self):
        try:
            self.unlock()
        except Exception:
            pass


# ------------------------------------------------------------ DbmSession

def _dbm_path(opts):
    path = _option(opts, ("mod_python.dbm_session.database_filename", "session_dbm"))
    if path is None:
        d = _option(opts, ("mod_python.dbm_session.database_directory",
                           "mod_python.session.database_directory",
                           "session_directory"), tempdir)
        path = os.path.join(d, "mp_sess.dbm")
    return path


class _DbmOpen:
    """The session dbm, open while global lock 0 is held (dbm files take
    one writer at a time)."""

    def __init__(self, server, filename, dbmtype):
        self.server, self.filename, self.dbmtype = server, filename, dbmtype

    def __enter__(self):
        _apache._global_lock(self.server, None, 0)
        try:
            self.db = self.dbmtype.open(self.filename, "c",
                                        stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP)
        except BaseException:
            _apache._global_unlock(self.server, None, 0)
            raise
        return self.db

    def __exit__(self, *exc):
        try:
            self.db.close()
        finally:
            _apache._global_unlock(self.server, None, 0)


def dbm_cleanup(data):
    """Remove the expired (or unreadable) sessions of a session dbm;
    `data` is (filename, server[, dbm module])."""
    filename, server = data[0], data[1]
    dbmtype = data[2] if len(data) > 2 else dbm
    now = time.time()
    with _DbmOpen(server, filename, dbmtype) as db:
        old = []
        for key in db.keys():
            try:
                record = pickle.loads(db[key])
                if now - record["_accessed"] > record["_timeout"]:
                    old.append(key)
            except Exception:
                old.append(key)
        for key in old:
            del db[key]


class DbmSession(BaseSession):
    """Sessions in one dbm file (default: mp_sess.dbm in the temporary
    directory), for every process of the server."""

    def __init__(self, req, dbm=None, sid=0, secret=None, dbmtype=dbm,
                 timeout=0, lock=1):
        self._dbmfile = dbm or _dbm_path(req.get_options())
        self._dbmtype = dbmtype
        BaseSession.__init__(self, req, sid=sid, secret=secret, timeout=timeout, lock=lock)

    def _db(self):
        return _DbmOpen(self._server, self._dbmfile, self._dbmtype)

    def do_cleanup(self):
        self._req.register_cleanup(dbm_cleanup, (self._dbmfile, self._server, self._dbmtype))
        _log(self._req, "DbmSession: registered database cleanup.")

    def do_load(self):
        with self._db() as db:
            data = db.get(self._sid.encode())
        if data is None:
            return None
        try:
            return pickle.loads(data)
        except Exception:
            _log(self._req, "Error while loading a session: %s" % traceback.format_exc(),
                 apache.APLOG_ERR)
            return None

    def do_save(self, record):
        data = pickle.dumps(record)   # an unpicklable value fails here
        with self._db() as db:
            db[self._sid.encode()] = data

    def do_delete(self):
        with self._db() as db:
            try:
                del db[self._sid.encode()]
            except KeyError:
                pass


# ------------------------------------------------------------ FileSession

DFT_FAST_CLEANUP = True
DFT_VERIFY_CLEANUP = True
DFT_GRACE_PERIOD = 240
DFT_CLEANUP_TIME_LIMIT = 2
FS_STAT_VERSION = "MPFS_3.2"
_FS_LOCKFILE = ".mp_sess.lck"
_FS_STATUS = "fs_status.txt"
_FS_STALE_LOCK = 3600          # seconds: a cleanup lock file older is stale


def _session_file(sessdir, sid):
    """sessdir/<first two digits>/<sid>: 256 directories."""
    return os.path.join(sessdir, sid[:2], sid)


def make_filesession_dirs(sess_dir):
    """Make the 256 directories of a FileSession store."""
    for i in range(256):
        os.makedirs(os.path.join(sess_dir, "%02x" % i),
                    stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP, exist_ok=True)


def _read_record(filename):
    with open(filename, "rb") as f:
        return pickle.load(f)


def _write_record(filename, data):
    """Write a whole file or none: a reader (or a crash) never sees half
    a session."""
    d = os.path.dirname(filename)
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=d)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, stat.S_IRUSR | stat.S_IWUSR | stat.S_IRGRP)
        os.replace(tmp, filename)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


class FileSession(BaseSession):
    """Sessions in a pickle file each, under <database_directory>/mp_sess
    (default: the temporary directory)."""

    def __init__(self, req, sid=0, secret=None, timeout=0, lock=1,
                 fast_cleanup=-1, verify_cleanup=-1):
        opts = req.get_options()
        self._file_locked = False
        if fast_cleanup == -1:
            fast_cleanup = _bool_option(opts, ("mod_python.file_session.enable_fast_cleanup",
                                               "session_fast_cleanup"), DFT_FAST_CLEANUP)
        if verify_cleanup == -1:
            verify_cleanup = _bool_option(opts, ("mod_python.file_session.verify_session_timeout",
                                                 "session_verify_cleanup"), DFT_VERIFY_CLEANUP)
        self._fast_cleanup, self._verify_cleanup = fast_cleanup, verify_cleanup
        self._grace_period = _int_option(opts, ("mod_python.file_session.cleanup_grace_period",
                                                "session_grace_period"), DFT_GRACE_PERIOD)
        self._cleanup_time_limit = _int_option(
            opts, ("mod_python.file_session.cleanup_time_limit", "session_cleanup_time_limit"),
            DFT_CLEANUP_TIME_LIMIT)
        d = _option(opts, ("mod_python.file_session.database_directory",
                           "mod_python.session.database_directory", "session_directory"), tempdir)
        self._sessdir = os.path.join(d, "mp_sess")
        self._cleanup_timeout = timeout or _int_option(
            opts, ("mod_python.session.timeout",), DFT_TIMEOUT)
        BaseSession.__init__(self, req, sid=sid, secret=secret, timeout=timeout, lock=lock)

    def _filename(self):
        return _session_file(self._sessdir, self._sid)

    def lock_file(self):
        """Without the session lock (lock=0), each file operation takes the
        session's global lock for its own duration."""
        if not self._locked:
            _acquire(self._req, self._server, self._sid)
            self._file_locked = True

    def unlock_file(self):
        if self._file_locked:
            self._file_locked = False
            _release(self._server, self._sid)

    def do_cleanup(self):
        data = {"req": self._req, "sessdir": self._sessdir,
                "fast_cleanup": self._fast_cleanup, "verify_cleanup": self._verify_cleanup,
                "timeout": self._cleanup_timeout, "grace_period": self._grace_period,
                "cleanup_time_limit": self._cleanup_time_limit}
        self._req.register_cleanup(filesession_cleanup, data)
        _log(self._req, "FileSession: registered filesession cleanup.")

    def do_load(self):
        filename = self._filename()
        self.lock_file()
        try:
            record = _read_record(filename)
            if time.time() - record["_accessed"] <= record["_timeout"]:
                # fresh again for the cleanup until this request saves it
                os.utime(filename, None)
            return record
        except FileNotFoundError:
            return None
        except Exception:
            _log(self._req, "Error while loading a session: %s" % traceback.format_exc(),
                 apache.APLOG_ERR)
            return None
        finally:
            self.unlock_file()

    def do_save(self, record):
        data = pickle.dumps(record)   # an unpicklable value fails here
        filename = self._filename()
        self.lock_file()
        try:
            os.makedirs(os.path.dirname(filename),
                        stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP, exist_ok=True)
            _write_record(filename, data)
        finally:
            self.unlock_file()

    def do_delete(self):
        self.lock_file()
        try:
            os.unlink(self._filename())
        except OSError:
            pass
        finally:
            self.unlock_file()


def _fs_status(sessdir):
    """(next directory index, expired, total, seconds) of an unfinished
    cleanup, from fs_status.txt."""
    try:
        with open(os.path.join(sessdir, _FS_STATUS)) as f:
            parts = f.readline().split()
        if parts[0] != FS_STAT_VERSION:
            raise ValueError(parts[0])
        return int(parts[1]) % 256, int(parts[2]), int(parts[3]), float(parts[4])
    except (OSError, IndexError, ValueError):
        return 0, 0, 0, 0.0


def _fs_expired(filename, data, now):
    """Whether the session file `filename` is to be removed."""
    slack = data["timeout"] + data["grace_period"]
    if data["fast_cleanup"]:
        if now - os.stat(filename).st_mtime < slack:
            return False
        if not data["verify_cleanup"]:
            return True
    record = _read_record(filename)
    return now - record["_accessed"] > record["_timeout"] + data["grace_period"]


def _fs_drop_stale_tmp(filename):
    """A temporary file of a write that never finished (a crash)."""
    if os.stat(filename).st_mtime < time.time() - _FS_STALE_LOCK:
        os.unlink(filename)


def _fs_sweep(req, data, start):
    """Remove the expired files of the directories from index `start`
    until the time limit; (next index, expired, total)."""
    sessdir, limit = data["sessdir"], data["cleanup_time_limit"]
    t0, expired, total, i = time.time(), 0, 0, start
    while i < 256:
        path = os.path.join(sessdir, "%02x" % i)
        names = os.listdir(path) if os.path.isdir(path) else []
        total += len(names)
        for name in names:
            filename = os.path.join(path, name)
            try:
                if name.startswith(".tmp-"):
                    _fs_drop_stale_tmp(filename)
                elif _check_sid(name) and _fs_expired(filename, data, time.time()):
                    os.unlink(filename)
                    expired += 1
            except FileNotFoundError:
                pass
            except Exception:
                _log(req, "FileSession cleanup error: %s" % traceback.format_exc())
        i += 1
        if limit > 0 and time.time() - t0 > limit:
            break
    return i % 256, expired, total


def filesession_cleanup(data):
    """Remove expired FileSession files, one cleanup at a time (a lock
    file), at most cleanup_time_limit seconds; an unfinished sweep goes
    on from where it stopped next time (fs_status.txt).  A session is
    kept for grace_period seconds past its expiry, so that a request
    still using it does not lose it."""
    req, sessdir = data["req"], data["sessdir"]
    _log(req, "FileSession cleanup: (fast=%s, verify=%s) ..."
         % (data["fast_cleanup"], data["verify_cleanup"]))
    lockfile = os.path.join(sessdir, _FS_LOCKFILE)
    try:
        os.makedirs(sessdir, stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP, exist_ok=True)
        fd = os.open(lockfile, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o660)
    except FileExistsError:
        _fs_busy(req, lockfile)
        return
    try:
        start, expired, total, spent = _fs_status(sessdir)
        t0 = time.time()
        nxt, n_exp, n_tot = _fs_sweep(req, data, start)
        expired, total, spent = expired + n_exp, total + n_tot, spent + time.time() - t0
        if nxt == 0:
            _log(req, "FileSession cleanup: deleted %d of %d in %.4f seconds"
                 % (expired, total, spent))
            expired, total, spent = 0, 0, 0.0
        else:
            _log(req, "FileSession cleanup incomplete: next cleanup will start at "
                 "index %d (%02x)" % (nxt, nxt))
        with open(os.path.join(sessdir, _FS_STATUS), "w") as f:
            f.write("%s %d %d %d %f\n" % (FS_STAT_VERSION, nxt, expired, total, spent))
    finally:
        os.close(fd)
        try:
            os.unlink(lockfile)
        except FileNotFoundError:
            pass


def _fs_busy(req, lockfile):
    """Another cleanup holds the lock file; one over an hour old was left
    by a crashed one: remove it, the next cleanup runs."""
    try:
        stale = os.stat(lockfile).st_mtime < time.time() - _FS_STALE_LOCK
    except FileNotFoundError:
        return
    if stale:
        _log(req, "FileSession cleanup: stale lockfile found - deleting it")
        try:
            os.unlink(lockfile)
        except FileNotFoundError:
            pass
    else:
        _log(req, "FileSession cleanup: another process is already running")


# ------------------------------------------------------------ MemorySession

def mem_cleanup(sdict):
    """Remove the expired sessions of a MemorySession dict."""
    now = time.time()
    for sid in list(sdict):
        record = sdict.get(sid)
        try:
            if now - record["_accessed"] > record["_timeout"]:
                sdict.pop(sid, None)
        except (KeyError, TypeError):
            sdict.pop(sid, None)


class MemorySession(BaseSession):
    """Sessions in a dict of this process and interpreter: for a single
    process (its values are kept as they are, not pickled)."""

    sdict = {}

    def __init__(self, req, sid=0, secret=None, timeout=0, lock=1):
        BaseSession.__init__(self, req, sid=sid, secret=secret, timeout=timeout, lock=lock)

    def do_cleanup(self):
        self._req.register_cleanup(mem_cleanup, MemorySession.sdict)
        _log(self._req, "MemorySession: registered session cleanup.")

    def do_load(self):
        return MemorySession.sdict.get(self._sid)

    def do_save(self, record):
        MemorySession.sdict[self._sid] = record

    def do_delete(self):
        MemorySession.sdict.pop(self._sid, None)


# ------------------------------------------------------------ Session

_TYPES = {"DbmSession": DbmSession, "FileSession": FileSession,
          "MemorySession": MemorySession}


def _default_type():
    """MemorySession for threads in a single process (a threaded MPM not
    forking, or limited to one child), else DbmSession: the one store
    every process sees."""
    threaded = apache.mpm_query(apache.AP_MPMQ_IS_THREADED)
    forked = apache.mpm_query(apache.AP_MPMQ_IS_FORKED)
    daemons = apache.mpm_query(apache.AP_MPMQ_MAX_DAEMONS)
    if threaded and (not forked or daemons == 1):
        return "MemorySession"
    return "DbmSession"


def Session(req, sid=None, secret=None, timeout=0, lock=1):
    """A session of the class PythonOption mod_python.session.session_type
    names (DbmSession, FileSession or MemorySession), else the MPM's
    default."""
    opts = req.get_options()
    name = _option(opts, ("mod_python.session.session_type", "session")) or _default_type()
    try:
        cls = _TYPES[name]
    except KeyError:
        raise ValueError("Unknown session type %s" % name) from None
    return cls(req, sid=sid, secret=secret, timeout=timeout, lock=lock)
