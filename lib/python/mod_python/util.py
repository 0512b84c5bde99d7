"""mod_python.util: form data (FieldStorage), header parsing, redirects.

mod_python 3.5's names and behaviour, for Python 3.  Text follows the
module's rule: bytes from the client become str by UTF-8 with
errors="surrogateescape" (undecodable bytes are kept, and come back out
unchanged when the str is encoded the same way); the content of an
uploaded file stays bytes.

Request bodies are read in fixed-size blocks: a file upload goes to a
temporary file (or the file_callback's file) block by block, so memory
stays bounded whatever the size of the upload.  Fields that are not files
are kept in memory (they become str), as in 3.5: LimitRequestBody bounds
those.
"""
import html
import io
import tempfile

import _apache
from . import apache

parse_qs = _apache.parse_qs
parse_qsl = _apache.parse_qsl

# The size of the blocks the body is read in.  3.5 exported its line limit
# under this name; code that tunes it still finds it.
readBlockSize = 64 * 1024

# A part's header block larger than this is refused (400): it is the only
# thing held in memory whole while a multipart body is parsed.
MAX_PART_HEADERS = 64 * 1024

# Whitespace allowed between a boundary and its line end (RFC 2046's
# "transport padding"); more and it is not a boundary.
MAX_PADDING = 256


def _text(b):
    """bytes -> str by the text rule (str passes through)."""
    if isinstance(b, str):
        return b
    return bytes(b).decode("utf-8", "surrogateescape")


def _bytes(s):
    """str -> bytes, the exact inverse of _text (bytes pass through)."""
    if isinstance(s, (bytes, bytearray)):
        return bytes(s)
    return s.encode("utf-8", "surrogateescape")


# ------------------------------------------------------------------ fields

class Field:
    """A form field whose content is in a file (a file upload).

    `value` reads the whole file (bytes) each time it is asked for; `file`
    is the file itself, positioned at its start after parsing.  Third-party
    code of 3.5's time builds fields as Field(name, file, ctype,
    type_options, disp, disp_options[, headers]): still accepted.
    """

    filename = None
    file = None
    type = None
    type_options = {}
    disposition = None
    disposition_options = {}
    headers = {}

    def __init__(self, name, *args, **kwargs):
        self.name = name
        if args or kwargs:
            self.__bc_init__(*args, **kwargs)

    def __bc_init__(self, file, ctype, type_options, disp, disp_options,
                    headers={}):
        self.file = file
        self.type = ctype
        self.type_options = type_options
        self.disposition = disp
        self.disposition_options = disp_options
        self.filename = disp_options.get("filename")
        self.headers = headers

    def __getattr__(self, name):
        # only reached when the attribute is missing: `value` (which code
        # of 3.5's time may also set) from the file, on each access
        if name != "value":
            raise AttributeError(name)
        if self.file is None:
            return None
        self.file.seek(0)
        data = self.file.read()
        self.file.seek(0)
        if not isinstance(data, bytes):
            raise TypeError("a Field's file must be opened in binary mode")
        return data

    def __repr__(self):
        return "Field(%r, %r)" % (self.name, self.value)


class StringField(str):
    """A form field held in memory: a str, with the attributes of a Field.

    `value` is the str itself; `file` is made on demand (a BytesIO of the
    field's bytes) unless parsing gave one.  `name` is set by whoever
    makes it (StringField("value") takes one argument, as in 3.5).
    """

    name = None
    filename = None
    headers = {}
    type = ctype = "text/plain"  # 3.5 spelled the class default "ctype"
    type_options = {}
    disposition = None
    disposition_options = disp_options = None

    def __new__(cls, value):
        return str.__new__(cls, _text(value))

    def __getattr__(self, name):
        # only reached when the attribute is missing (both may be set)
        if name == "value":
            return str(self)
        if name == "file":   # made on demand
            self.file = io.BytesIO(_bytes(str(self)))
            return self.file
        raise AttributeError(name)

    def __repr__(self):
        return "Field(%r, %r)" % (self.name, str(self))


class FieldList(list):
    """The fields in the order received, with an index by name (made on
    first use, dropped by every change to the list)."""

    def __init__(self, *args):
        list.__init__(self, *args)
        self._table = None

    def table(self):
        """{name: [field, ...]}, in the order received."""
        if self._table is None:
            table = {}
            for item in self:
                table.setdefault(item.name, []).append(item)
            self._table = table
        return self._table


def _invalidating(method):
    def change(self, *args):
        self._table = None
        return method(self, *args)
    change.__name__ = method.__name__
    change.__doc__ = method.__doc__
    return change


for _name in ("__setitem__", "__delitem__", "__iadd__", "__imul__", "append",
              "extend", "insert", "pop", "remove", "clear", "sort", "reverse"):
    setattr(FieldList, _name, _invalidating(getattr(list, _name)))
del _name


# ------------------------------------------------------------------ headers

def _split_params(line):
    """Split at ';' outside double quotes (a quoted value may hold ';')."""
    parts, start, quoted, i, n = [], 0, False, 0, len(line)
    while i < n:
        c = line[i]
        if c == '"':
            quoted = not quoted
        elif c == "\\" and quoted:
            i += 1
        elif c == ";" and not quoted:
            parts.append(line[start:i])
            start = i + 1
        i += 1
    parts.append(line[start:])
    return parts


def _unquote(value):
    if len(value) >= 2 and value[0] == value[-1] == '"':
        value = value[1:-1]
        if "\\" in value:
            out, i = [], 0
            while i < len(value):
                if value[i] == "\\" and i + 1 < len(value):
                    i += 1
                out.append(value[i])
                i += 1
            value = "".join(out)
    return value


def parse_header(line):
    """Parse a Content-Type like header: (value, {option: value}).

    The value and the option names are lower-cased; option values lose
    their double quotes (with backslash escapes undone).  bytes are taken
    by the text rule.
    """
    parts = _split_params(_text(line))
    key = parts[0].strip().lower()
    pdict = {}
    for p in parts[1:]:
        i = p.find("=")
        if i >= 0:
            pdict[p[:i].strip().lower()] = _unquote(p[i + 1:].strip())
    return key, pdict


# ------------------------------------------------------------------ bodies

class _Body:
    """The request body as a buffer refilled by fixed-size req.read()s."""

    def __init__(self, req):
        self.req = req
        self.buf = bytearray()
        self.eof = False

    def fill(self):
        """Read one more block: False at the end of the body."""
        if self.eof:
            return False
        data = self.req.read(readBlockSize)
        if not isinstance(data, bytes):
            raise TypeError("req.read() must return bytes")
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True


class _Multipart:
    """A multipart body, parsed as it is read.

    A delimiter is CRLF "--" boundary, followed by "--" (the last one) or
    by optional padding and a line end; CRLF--boundary followed by
    anything else is data.  Data between delimiters goes to its sink as
    the blocks come, less a tail that might be the start of a delimiter
    split across two reads, so the buffer never holds much more than one
    block.
    """

    def __init__(self, req, boundary):
        self.body = _Body(req)
        # a body starting with its first boundary has no CRLF before it
        self.body.buf += b"\r\n"
        self.delim = b"\r\n--" + boundary

    def _after(self, at):
        """What follows a delimiter found at `at`: ("last", n), ("part", n)
        with n the bytes to drop before what comes next, ("none",) if it
        is data after all, ("more",) if more bytes are needed."""
        buf, i = self.body.buf, at + len(self.delim)
        if buf[i:i + 2] == b"--":
            return ("last", i + 2)
        while i < len(buf) and buf[i] in b" \t":
            i += 1
            if i - at - len(self.delim) > MAX_PADDING:
                return ("none",)
        if i == len(buf) or buf[i:i + 2] == b"\r":
            return ("more",)
        if buf[i:i + 2] == b"\r\n":
            return ("part", i + 2)
        if buf[i:i + 1] == b"\n":
            return ("part", i + 1)
        if len(buf) == at + len(self.delim) + 1 and buf[-1:] == b"-":
            return ("more",)
        return ("none",)

    def to_delimiter(self, sink):
        """Copy data to `sink` (None: drop it) up to the next delimiter and
        consume that: True if it was the last one or the body ended."""
        body, delim = self.body, self.delim
        start = 0
        while True:
            buf = body.buf
            at = buf.find(delim, start)
            if at < 0:
                # all but a tail that could begin a delimiter is data
                keep = min(len(buf), len(delim) - 1)
                self._emit(sink, len(buf) - keep)
                start = 0
                if not body.fill():
                    self._emit(sink, len(body.buf))
                    return True
                continue
            what = self._after(at)
            if what[0] == "more" and body.fill():
                start = at
                continue
            if what[0] == "none":
                start = at + 1
                continue
            self._emit(sink, at)
            if what[0] == "more":   # the body ended inside a delimiter
                body.buf.clear()
                return True
            del body.buf[:what[1] - at]
            return what[0] == "last"

    def _emit(self, sink, n):
        if n <= 0:
            return
        if sink is not None:
            sink.write(self.body.buf[:n])
        del self.body.buf[:n]

    def headers(self):
        """A part's header lines, unfolded: a list of bytes, or None when
        the body ended or a delimiter came first (the part is skipped)."""
        body, lines, size = self.body, [], 0
        while True:
            nl = body.buf.find(b"\n")
            if nl < 0:
                if len(body.buf) > MAX_PART_HEADERS:
                    raise apache.SERVER_RETURN(apache.HTTP_BAD_REQUEST)
                if not body.fill():
                    return None
                continue
            line = bytes(body.buf[:nl + 1])
            size += len(line)
            if size > MAX_PART_HEADERS:
                raise apache.SERVER_RETURN(apache.HTTP_BAD_REQUEST)
            if line.startswith(self.delim[2:]):
                return None   # the delimiter stays, for to_delimiter()
            del body.buf[:nl + 1]
            line = line.rstrip(b"\r\n")
            if not line:
                return lines
            if line[:1] in (b" ", b"\t") and lines:
                lines[-1] += b" " + line.strip()
            else:
                lines.append(line)

    def skip_to_delimiter(self):
        """After headers() gave None: put back the CRLF the delimiter line
        lost and go past it (True, as to_delimiter(), if the body ends)."""
        self.body.buf[:0] = b"\r\n"
        return self.to_delimiter(None)


def _part_attributes(lines):
    """A part's name, type, type_options, disposition, disposition_options
    and headers (a table) from its header lines."""
    ctype, type_options = "text/plain", {}
    disp, disp_options = None, {}
    headers = apache.make_table()
    for line in lines:
        name, sep, value = line.partition(b":")
        if not sep:
            continue   # not a header: tolerated, as 3.5 did
        name, value = _text(name.strip()), _text(value.strip())
        headers.add(name, value)
        if name.lower() == "content-disposition":
            disp, disp_options = parse_header(value)
        elif name.lower() == "content-type":
            ctype, type_options = parse_header(value)
            if "/" not in ctype:   # IE 6 sent rubbish for files without suffix
                ctype = "application/octet-stream"
    return dict(name=disp_options.get("name"), type=ctype, type_options=type_options,
                disposition=disp, disposition_options=disp_options, headers=headers)


class FieldStorage:
    """The fields of a request: the query string's, then (for POST) the
    body's, urlencoded or multipart/form-data.

    A mapping by name: fs[name] is the field, or the list of them when the
    name came more than once; also getfirst, getlist, get, has_key, keys,
    items (every field, in order), `in`, len() (distinct names); `list`
    holds every field in the order received.
    """

    def __init__(self, req, keep_blank_values=0, strict_parsing=0,
                 file_callback=None, field_callback=None):
        self.list = FieldList()
        if req.args:
            for name, value in parse_qsl(req.args, keep_blank_values, strict_parsing):
                self.add_field(name, value)
        if req.method != "POST":
            return
        headers = req.headers_in
        chunked = "chunked" in str(headers.get("transfer-encoding", "")).lower()
        if not chunked:
            try:
                clen = int(headers["content-length"])
            except (KeyError, ValueError, TypeError):
                raise apache.SERVER_RETURN(apache.HTTP_LENGTH_REQUIRED)
            if clen < 0:
                raise apache.SERVER_RETURN(apache.HTTP_LENGTH_REQUIRED)
        ctype, options = parse_header(headers.get("content-type") or
                                      "application/x-www-form-urlencoded")
        if ctype == "application/x-www-form-urlencoded":
            data = req.read(-1 if chunked else clen)
            if not isinstance(data, bytes):
                raise TypeError("req.read() must return bytes")
            for name, value in parse_qsl(data, keep_blank_values, strict_parsing):
                self.add_field(_text(name), value)   # bytes in, bytes out
            return
        if not ctype.startswith("multipart/"):
            raise apache.SERVER_RETURN(apache.HTTP_NOT_IMPLEMENTED)
        boundary = _bytes(options.get("boundary", ""))
        if not boundary or len(boundary) > 200:
            raise apache.SERVER_RETURN(apache.HTTP_BAD_REQUEST)
        self._read_multipart(_Multipart(req, boundary), file_callback, field_callback)

    def _read_multipart(self, body, file_callback, field_callback):
        last = body.to_delimiter(None)   # the preamble
        while not last:
            lines = body.headers()
            if lines is None:   # no part here: the next delimiter, if any
                last = body.skip_to_delimiter()
                continue
            part = _part_attributes(lines)
            filename = part["disposition_options"].get("filename")
            if filename is not None:
                sink = (file_callback(filename) if callable(file_callback)
                        else tempfile.TemporaryFile("w+b"))
            else:
                sink = field_callback() if callable(field_callback) else io.BytesIO()
            last = body.to_delimiter(sink)
            sink.seek(0)
            if filename:
                field = Field(part["name"])
                field.filename = filename
            else:   # a field, or a file input left empty: its content as str
                field = StringField(sink.read())
                field.name = part["name"]
                sink.seek(0)
            field.file = sink
            for k in ("type", "type_options", "disposition", "disposition_options",
                      "headers"):
                setattr(field, k, part[k])
            self.list.append(field)

    def add_field(self, key, value):
        """Add a field (a StringField) named key."""
        item = StringField(value)
        item.name = key
        self.list.append(item)

    def __setitem__(self, key, value):
        """Replace every field named key by one StringField."""
        for item in self.list.table().get(key, ()):
            self.list.remove(item)
        self.add_field(key, value)

    def __getitem__(self, key):
        found = self.list.table()[key]
        return found[0] if len(found) == 1 else list(found)

    def __delitem__(self, key):
        for item in self.list.table()[key]:
            self.list.remove(item)

    def get(self, key, default=None):
        try:
            return self[key]
        except (KeyError, TypeError):
            return default

    def getfirst(self, key, default=None):
        """The first field named key, else default."""
        found = self.list.table().get(key)
        return found[0] if found else default

    def getlist(self, key):
        """Every field named key (a new list; [] if none)."""
        return list(self.list.table().get(key, ()))

    def keys(self):
        return list(self.list.table())

    def __iter__(self):
        return iter(self.keys())

    def items(self):
        """(name, field) of every field, in the order received."""
        return [(item.name, item) for item in self.list]

    def has_key(self, key):
        return key in self.list.table()

    __contains__ = has_key

    def __len__(self):
        return len(self.list.table())

    def clear(self):
        self.list = FieldList()

    def __repr__(self):
        return repr(self.list.table())


# ------------------------------------------------------------------ helpers

def _expected_args(obj):
    """(code, the names obj takes by keyword) for apply_fs_data; code is
    None when obj's arguments cannot be known (a builtin, say)."""
    skip = 0
    if hasattr(obj, "__func__") and hasattr(obj.__func__, "__code__"):
        fc, skip = obj.__func__.__code__, 1          # a bound method: not self
    elif hasattr(obj, "__code__"):
        fc = obj.__code__                            # a function
    elif isinstance(obj, type):
        init = getattr(obj, "__init__", None)
        if not hasattr(init, "__code__"):
            return None, ()
        fc, skip = init.__code__, 1                  # a class: its __init__
    elif callable(obj):
        call = getattr(type(obj), "__call__", None)
        if not hasattr(call, "__code__"):
            return None, ()
        fc, skip = call.__code__, 1                  # an object with __call__
    else:
        return None, ()
    first = max(skip, getattr(fc, "co_posonlyargcount", 0))
    names = fc.co_varnames[first:fc.co_argcount + fc.co_kwonlyargcount]
    return fc, names


def apply_fs_data(object, fs, **args):
    """Call `object` with the form's fields as keyword arguments (and
    `args`), passing only the names it takes unless it takes **kw.  A
    file upload is passed as its Field, other fields as their str; a name
    given several times as a list."""
    fc, expected = _expected_args(object)
    for field in fs.list:
        val = field if field.filename else field.value
        args.setdefault(field.name, []).append(val)
    for name, val in args.items():
        if type(val) is list and len(val) == 1:
            args[name] = val[0]
    if fc is None:
        args = {}
    elif not fc.co_flags & 0x08:   # no **kw: drop what it does not take
        args = {k: v for k, v in args.items() if k in expected}
    return object(**args)


def redirect(req, location, permanent=0, text=None):
    """Send a redirect to `location` (302, or 301 if permanent) with a
    short HTML body (or `text`), and end the handler
    (SERVER_RETURN(DONE))."""
    if not isinstance(location, str):
        raise TypeError("location must be of type str")
    if req.sent_bodyct:
        raise IOError("Cannot redirect after headers have already been sent.")
    req.err_headers_out["Location"] = location
    req.status = apache.HTTP_MOVED_PERMANENTLY if permanent else apache.HTTP_MOVED_TEMPORARILY
    if text is None:
        if not req._content_type_set:
            req.content_type = "text/html"
        text = '<p>The document has moved <a href="%s">here</a></p>\n' % (
            html.escape(location, quote=True))
    req.write(text)
    raise apache.SERVER_RETURN(apache.DONE)
