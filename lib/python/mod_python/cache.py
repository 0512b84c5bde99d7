"""mod_python.cache: thread-safe caches of values built on demand, with
mod_python 3.5's classes and hooks.

Cache(max_size) maps names to values: cache[name] builds the value the
first time (build()), and again whenever check() says the source changed.
With max_size > 0 the least recently used entry goes when the cache grows
past it.  Subclasses:

  * FileCache: a file's content by path, read again when the file
    changes;
  * ModuleCache: a Python file run as a module (not in sys.modules);
  * HTTPCache: an HTTP resource (HTTPEntity), honouring max-age / Expires
    and revalidating with ETag / Last-Modified (a 304 keeps the value);
  * HttpModuleCache: a Python file fetched over HTTP, run as a module;
  * WeakCache: values held by weak reference;
  * FunctionCache: memoises a function of hashable arguments.

Locks: one for the table, held only to find or make an entry, and one per
entry, held while it is checked and built, so different names build in
parallel and one name is built once.
"""
import re
import threading
import time
import types
import urllib.error
import urllib.request
import weakref
from calendar import timegm
from collections import OrderedDict
from email.utils import parsedate
from os import stat

NOT_INITIALIZED = object()


class Entry:
    """A cache entry (internal): the key, the value or NOT_INITIALIZED, a
    lock, and whatever metadata check() keeps on it."""

    def __init__(self, key):
        self._key = key
        self._value = NOT_INITIALIZED
        self._lock = threading.Lock()


class Cache:
    """An abstract cache: subclasses give build() (and check() to detect
    a stale value).  max_size 0: unbounded; else least recently used
    entries are dropped beyond it."""

    def __init__(self, max_size=0):
        self._maxsize = max_size
        self._dict = OrderedDict()   # in order of use when bounded
        self._lock = threading.Lock()

    def __setitem__(self, name, value):
        entry = self._get_entry(self.key(name))
        with entry._lock:
            self._pack(entry, value)
            self.commit()

    def __getitem__(self, name):
        return self._checkitem(name)[2]

    def __delitem__(self, name):
        with self._lock:
            del self._dict[self.key(name)]

    def __contains__(self, name):
        with self._lock:
            return self.key(name) in self._dict

    def __len__(self):
        with self._lock:
            return len(self._dict)

    def _get_entry(self, key):
        with self._lock:
            entry = self._dict.get(key)
            if entry is None:
                entry = self._dict[key] = Entry(key)
                if self._maxsize:
                    while len(self._dict) > self._maxsize:
                        self._dict.popitem(last=False)
            elif self._maxsize:
                self._dict.move_to_end(key)
            return entry

    def _checkitem(self, name):
        """(is_new, key, value, entry), building the value when it is
        missing or check() says it is stale."""
        key = self.key(name)
        entry = self._get_entry(key)
        with entry._lock:
            value = self._unpack(entry)
            opened = self.check(key, name, entry)
            if value is not NOT_INITIALIZED and opened is None:
                return False, key, value, entry
            value = self.build(key, name, opened, entry)
            self._pack(entry, value)
            self.commit()
            return True, key, value, entry

    def mru(self):
        """The most recently used key (None if the cache is unbounded)."""
        return self._end(last=True)

    def lru(self):
        """The least recently used key (None if the cache is unbounded)."""
        return self._end(last=False)

    def _end(self, last):
        if not self._maxsize:
            return None
        with self._lock:
            if not self._dict:
                return None
            return next(reversed(self._dict)) if last else next(iter(self._dict))

    def key(self, name):
        """Override to derive the key from the name given to []."""
        return name

    def commit(self):
        """Override to act on each change (e.g. to make it persistent)."""

    def clear(self):
        with self._lock:
            self._dict.clear()

    def check(self, key, name, entry):
        """Override: None if the entry's value is fresh, else something
        opened (passed to build()).  Called with the entry's lock held,
        also for an entry not built yet; keep metadata on `entry`."""
        return None

    def build(self, key, name, opened, entry):
        """Override: the value for `name`, from check()'s `opened`."""
        raise NotImplementedError()

    def _pack(self, entry, value):
        entry._value = value

    def _unpack(self, entry):
        """The entry's value, or NOT_INITIALIZED."""
        return entry._value


class WeakCache(Cache):
    """Holds weak references: a value nobody else uses leaves the cache."""

    def _pack(self, entry, value):
        def gone(ref, key=entry._key, entry=entry):
            with self._lock:
                # only if the entry was not rebuilt with a live value since
                if self._dict.get(key) is entry and entry._value is ref:
                    del self._dict[key]
        entry._value = weakref.ref(value, gone)

    def _unpack(self, entry):
        if entry._value is NOT_INITIALIZED:
            return NOT_INITIALIZED
        value = entry._value()
        return NOT_INITIALIZED if value is None else value


class FileCache(Cache):
    """A file's content by file name (bytes for mode 'rb'), read again
    when the file changes (modification time, size or inode).  Override build() to keep
    something made from the file instead."""

    def __init__(self, max_size=0, mode="rb"):
        Cache.__init__(self, max_size)
        self.mode = mode

    def check(self, key, name, entry):
        st = stat(key)
        # any change counts: mtime older or newer, size, inode (a rename)
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        if entry._value is not NOT_INITIALIZED and getattr(entry, "_stamp", None) == stamp:
            return None
        entry._stamp, entry._timestamp = stamp, st.st_mtime
        return open(key, self.mode)

    def build(self, key, name, opened, entry):
        with opened:
            return opened.read()


def parseRFC822Time(t):
    """An HTTP date as seconds since the epoch (UTC)."""
    return timegm(parsedate(t))


re_max_age = re.compile(r"max-age\s*=\s*(\d+)", re.I)


class HTTPEntity:
    """What HTTPCache keeps: the body (bytes) and the response headers."""

    def __init__(self, entity, metadata):
        self.entity = entity
        self.metadata = metadata

    def __repr__(self):
        return "HTTPEntity(%r, %r)" % (self.entity, self.metadata)

    def __str__(self):
        return self.entity.decode("utf-8", "replace") if isinstance(
            self.entity, bytes) else str(self.entity)


class HTTPCache(Cache):
    """The resource at a URL, kept while fresh (Cache-Control max-age, or
    Expires - Date) and revalidated with its ETag or Last-Modified."""

    timeout = 30

    def check(self, key, name, entry):
        if entry._value is not NOT_INITIALIZED and time.time() < getattr(entry, "_expires", 0):
            return None
        request = urllib.request.Request(key)
        validator = getattr(entry, "_validator", None)
        if validator and entry._value is not NOT_INITIALIZED:
            request.add_header(*validator)
        try:
            opened = urllib.request.urlopen(request, timeout=self.timeout)
        except urllib.error.HTTPError as error:
            if error.code == 304 and entry._value is not NOT_INITIALIZED:
                error.close()
                self._freshness(entry, error.headers)
                return None
            raise
        self._freshness(entry, opened.headers)
        etag, modified = opened.headers.get("etag"), opened.headers.get("last-modified")
        if etag:
            entry._validator = ("If-None-Match", etag)
        elif modified:
            entry._validator = ("If-Modified-Since", modified)
        else:
            entry._validator = None
        return opened

    @staticmethod
    def _freshness(entry, headers):
        match = re_max_age.search(headers.get("cache-control") or "")
        if match:
            entry._expires = time.time() + int(match.group(1))
            return
        try:
            lifetime = parseRFC822Time(headers["expires"]) - parseRFC822Time(headers["date"])
        except (KeyError, TypeError, ValueError):
            entry._expires = 0
        else:
            entry._expires = time.time() + lifetime

    def build(self, key, name, opened, entry):
        with opened:
            return HTTPEntity(opened.read(), dict(opened.headers))


re_not_word = re.compile(r"\W+")


def _module(key, source, filename):
    module = types.ModuleType(re_not_word.sub("_", key))
    module.__file__ = key
    exec(compile(source, filename, "exec"), module.__dict__)
    return module


class ModuleCache(FileCache):
    """A Python file, by file name, run as a new module (not put in
    sys.modules) the first time and whenever the file changes."""

    def __init__(self, max_size=0):
        FileCache.__init__(self, max_size, "rb")

    def build(self, key, name, opened, entry):
        with opened:
            return _module(key, opened.read(), key)


class HttpModuleCache(HTTPCache):
    """A Python file fetched over HTTP, run as a new module (not put in
    sys.modules), again when the resource changes."""

    def build(self, key, name, opened, entry):
        with opened:
            return _module(key, opened.read(), name)


class FunctionCache(Cache):
    """Memoises `function`: cache(*args, **kw) calls it once per distinct
    (hashable) arguments."""

    def __init__(self, function, max_size=0):
        Cache.__init__(self, max_size)
        self.function = function

    def __call__(self, *args, **kw):
        return self[args, tuple(sorted(kw.items()))]

    def build(self, key, name, opened, entry):
        args, kw = key
        return self.function(*args, **dict(kw))
