"""mod_python.Cookie: HTTP cookies, plain, signed, or holding marshalled
values, as mod_python 3.5 had them.

A Cookie is one cookie (not a jar of morsels).  Cookie.parse(header)
gives {name: Cookie} from a Cookie (or Set-Cookie) header value;
add_cookie(req, ...) sets one in the response; get_cookies(req) and
get_cookie(req, name) read the request's.

SignedCookie appends nothing visible but prefixes the value with an
HMAC-SHA256 of the name and value (64 hex digits), keyed by a secret;
parsing checks it in constant time.  It also accepts mod_python 3.5's
signature (HMAC-MD5 of name and value, 32 hex digits), so that cookies
issued by 3.5 stay valid across the upgrade; new cookies are always
SHA-256.  MarshalCookie stores any marshallable value, base64 encoded,
inside a SignedCookie, and unmarshals only what carries a valid
signature.
"""
import base64
import binascii
import calendar
import hashlib
import hmac
import marshal
import re
import time


class CookieError(Exception):
    pass


_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep",
           "Oct", "Nov", "Dec")
# The Netscape format 3.5 wrote, and RFC 1123's, both accepted as strings.
_EXPIRES_FORMATS = ("%a, %d-%b-%Y %H:%M:%S GMT", "%a, %d %b %Y %H:%M:%S GMT")


def _http_time(t):
    """A time.time() value in the Netscape cookie format, whatever the
    locale: 'Wdy, DD-Mon-YYYY HH:MM:SS GMT'."""
    g = time.gmtime(t)
    return "%s, %02d-%s-%04d %02d:%02d:%02d GMT" % (
        _DAYS[g.tm_wday], g.tm_mday, _MONTHS[g.tm_mon - 1], g.tm_year,
        g.tm_hour, g.tm_min, g.tm_sec)


def _parse_http_time(s):
    for fmt in _EXPIRES_FORMATS:
        try:
            return calendar.timegm(time.strptime(s, fmt))
        except ValueError:
            pass
    raise ValueError("Invalid expires time: %s" % s)


class Cookie:
    """One cookie: name, value and the attributes of the cookie standards
    (version, path, domain, secure, comment, expires, max_age, samesite,
    commentURL, discard, port, httponly), set as keywords or attributes.
    `expires` takes a time.time() number or a date string; str(cookie) is
    the Set-Cookie header value."""

    DOWNGRADE = 0
    IGNORE = 1
    EXCEPTION = 3

    _valid_attr = ("version", "path", "domain", "secure", "comment", "expires",
                   "max_age", "samesite", "commentURL", "discard", "port",
                   "httponly")
    # attributes written as a bare word when true
    _flags = ("secure", "discard", "httponly")
    # attribute names as written in the header (3.5 wrote the attribute name
    # itself; "max_age" is no cookie attribute: browsers ignored it)
    _header_names = {"max_age": "Max-Age"}

    __slots__ = tuple(a for a in _valid_attr if a != "expires") + (
        "name", "value", "_expires", "__data__")

    def __init__(self, name, value, **kw):
        self.name, self.value = name, value
        for k, v in kw.items():
            k = k.lower()
            if k == "commenturl":
                k = "commentURL"
            if k not in self._valid_attr:
                raise AttributeError("%r is not a cookie attribute" % k)
            setattr(self, k, v)
        self.__data__ = {}   # for subclasses

    @classmethod
    def parse(Class, str, **kw):
        """{name: Class} from a Cookie header's value (names starting with
        '$', RFC 2965's attributes, are left out); `names` limits it."""
        return _parse_cookie(str, Class, **kw)

    @property
    def expires(self):
        return self._expires

    @expires.setter
    def expires(self, value):
        if isinstance(value, str):
            _parse_http_time(value)   # a ValueError for a bad date
            self._expires = value
        else:
            self._expires = _http_time(value)

    @expires.deleter
    def expires(self):
        del self._expires

    def _attributes(self):
        out = []
        for name in self._valid_attr:
            if not hasattr(self, name):
                continue
            value = getattr(self, name)
            if name in self._flags:
                if value:
                    out.append(name)
            else:
                out.append("%s=%s" % (self._header_names.get(name, name), value))
        return out

    def _value_text(self):
        return "%s" % self.value

    def __str__(self):
        """The Set-Cookie header value (without the header's name)."""
        return "; ".join(["%s=%s" % (self.name, self._value_text())] + self._attributes())

    def __repr__(self):
        return "<%s: %s>" % (self.__class__.__name__, str(self))


def _key(secret):
    if isinstance(secret, str):
        return secret.encode("utf-8", "surrogateescape")
    return bytes(secret)


def _b(s):
    return s.encode("utf-8", "surrogateescape") if isinstance(s, str) else bytes(s)


class SignedCookie(Cookie):
    """A Cookie whose value carries an HMAC keyed by `secret`: parsing
    refuses (or downgrades) a cookie whose signature does not match."""

    __slots__ = ()

    def __init__(self, name, value, secret=None, **kw):
        Cookie.__init__(self, name, value, **kw)
        self.__data__["secret"] = secret

    @classmethod
    def parse(Class, s, secret, mismatch=Cookie.DOWNGRADE, **kw):
        """As Cookie.parse, each cookie checked with `secret`.  A cookie
        that fails: a plain Cookie with the raw value (DOWNGRADE, the
        default), left out (IGNORE), or CookieError (EXCEPTION)."""
        return Class._parse_checked(s, secret, mismatch, "unsign", **kw)

    @classmethod
    def _parse_checked(Class, s, secret, mismatch, check, **kw):
        cookies = _parse_cookie(s, Class, **kw)
        for name in list(cookies):
            c = cookies[name]
            try:
                getattr(c, check)(secret)
            except CookieError:
                if mismatch == Cookie.EXCEPTION:
                    raise
                if mismatch == Cookie.IGNORE:
                    del cookies[name]
                else:
                    cookies[name] = Cookie(name, c.value)
        return cookies

    def hexdigest(self, str):
        """The signature of `str` as this cookie's value: HMAC-SHA256 of
        name "=" value (the "=" keeps name and value apart), in hex."""
        secret = self.__data__.get("secret")
        if not secret:
            raise CookieError("Cannot sign without a secret")
        msg = _b(self.name) + b"=" + _b(str)
        return hmac.new(_key(secret), msg, hashlib.sha256).hexdigest()

    def _value_text(self):
        value = Cookie._value_text(self)
        return self.hexdigest(value) + value

    def unsign(self, secret):
        """Check the signature with `secret` and strip it from the value;
        CookieError if it does not match."""
        if not secret:
            raise CookieError("Cannot check a signature without a secret")
        raw = "%s" % self.value
        key, name = _key(secret), _b(self.name)
        sig, val = raw[:64], raw[64:]
        good = hmac.new(key, name + b"=" + _b(val), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(_b(sig), good.encode()):
            # mod_python 3.5's signature: HMAC-MD5 of name + value
            sig, val = raw[:32], raw[32:]
            good = hmac.new(key, name + _b(val), hashlib.md5).hexdigest()
            if not hmac.compare_digest(_b(sig), good.encode()):
                raise CookieError("Incorrectly Signed Cookie: %s=%s" % (self.name, raw))
        self.value = val
        self.__data__["secret"] = secret


class MarshalCookie(SignedCookie):
    """A SignedCookie holding any marshallable value (marshalled, then
    base64).  Only data whose signature checks is ever unmarshalled."""

    __slots__ = ()

    @classmethod
    def parse(Class, s, secret, mismatch=Cookie.DOWNGRADE, **kw):
        """As SignedCookie.parse; the values come back unmarshalled."""
        return Class._parse_checked(s, secret, mismatch, "unmarshal", **kw)

    def _value_text(self):
        m = base64.b64encode(marshal.dumps(self.value)).decode("ascii")
        return self.hexdigest(m) + m

    def unmarshal(self, secret):
        """Check the signature (CookieError if it fails), then decode and
        unmarshal the value (CookieError if it cannot be)."""
        self.unsign(secret)
        try:
            data = base64.b64decode(_b(self.value), validate=True)
        except (binascii.Error, ValueError):
            raise CookieError("Cannot base64 Decode Cookie: %s=%s" % (self.name, self.value))
        try:
            self.value = marshal.loads(data)
        except (EOFError, ValueError, TypeError):
            raise CookieError("Cannot Unmarshal Cookie: %s=%s" % (self.name, self.value))


# A name, optional "=", a value: a double-quoted string (kept with its
# quotes) or anything up to ";"; separators are ";", spaces and commas.
_cookiePattern = re.compile(
    r"""[,\ ]*
        (?P<key>[^;\ =]+)
        \ *(=\ *)?
        (?P<val>"(?:[^\\"]|\\.)*"|[^;]*)
        \s*;?""", re.VERBOSE)


def _parse_cookie(str, Class, names=None):
    result = {}
    for match in _cookiePattern.finditer(str):
        # (3.5 kept the spaces before a ";" in the value; RFC 6265 drops them)
        key, val = match.group("key"), match.group("val").rstrip(" \t")
        if key[0] != "$" and (names is None or key in names):
            result[key] = Class(key, val)
    return result


def add_cookie(req, cookie, value="", **kw):
    """Add a Set-Cookie header (a Cookie, or one made of name, value and
    attributes), with Cache-Control: no-cache="set-cookie" the first time
    so that caches do not keep it."""
    if not isinstance(cookie, Cookie):
        cookie = Cookie(cookie, value, **kw)
    if "Set-Cookie" not in req.headers_out:
        req.headers_out.add("Cache-Control", 'no-cache="set-cookie"')
    req.headers_out.add("Set-Cookie", str(cookie))


def get_cookies(req, Class=Cookie, **kw):
    """The request's cookies, {name: Class}; `kw` goes to Class.parse
    (secret= for SignedCookie and MarshalCookie, names=[...])."""
    if "cookie" not in req.headers_in:
        return {}
    cookies = req.headers_in["cookie"]
    if isinstance(cookies, list):
        cookies = "; ".join(cookies)
    return Class.parse(cookies, **kw)


def get_cookie(req, name, Class=Cookie, **kw):
    """The request's cookie `name`, or None."""
    return get_cookies(req, Class, names=[name], **kw).get(name)
