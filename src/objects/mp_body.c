/* Reading the request body for the request object (req.read, readline,
 * readlines).  Linear in the body whatever the calls: bytes read ahead
 * sit in one buffer consumed from the front, a newline is searched for
 * only in bytes not searched before, the buffer grows geometrically, and
 * a large read() goes from httpd straight into the bytes it returns.
 * httpd is asked for at most MP_BODY_CHUNK bytes at a time, the GIL
 * released meanwhile. */
#include "objects/mp_body.h"

#define MP_BODY_CHUNK ((size_t)64 * 1024)

/* Called first by each entry point. */
static int setup(mp_body *b, request_rec *r)
{
    int rc;

    if (b->busy) {
        /* a hook that httpd runs while this thread waits in it for body
         * bytes (the GIL given up) came back here: touching the buffer
         * could free it under the read in progress */
        PyErr_SetString(PyExc_RuntimeError,
                        "the request body is already being read");
        return -1;
    }
    if (b->ready)
        return 0;
    if ((rc = ap_setup_client_block(r, REQUEST_CHUNKED_DECHUNK)) != OK) {
        PyErr_Format(PyExc_OSError, "cannot read the request body (status %d)", rc);
        return -1;
    }
    b->ready = 1;
    b->eof = !ap_should_client_block(r);
    return 0;
}

/* One read of up to `len` (at most a chunk) body bytes into dst, without
 * the GIL: the count, 0 at the end of the body, -1 with OSError. */
static long get_block(mp_body *b, request_rec *r, char *dst, size_t len)
{
    /* only the thread serving the request gets here (mp_scope) */
    mp_interp *in;
    long n;

    if (b->eof)
        return 0;
    b->busy = 1;
    in = mp_interp_suspend();
    n = ap_get_client_block(r, dst, len < MP_BODY_CHUNK ? len : MP_BODY_CHUNK);
    mp_interp_resume(in);
    b->busy = 0;
    if (n < 0)
        PyErr_SetString(PyExc_OSError, "Client read error (timeout or closed connection)");
    else if (n == 0)
        b->eof = 1;
    return n;
}

static size_t unread(const mp_body *b)
{
    return b->end - b->start;
}

/* Room for `want` more bytes after the unread ones.  Called only when the
 * unread bytes are all going to the caller of this read (no newline among
 * them, fewer than asked for): moving them to the front costs no more than
 * what the call returns, and doubling keeps growth linear.  The capacity
 * stays under 2 * (unread + want). */
static int make_room(mp_body *b, size_t want)
{
    size_t have = unread(b), cap;
    char *p;

    if (b->cap - b->end >= want)
        return 0;
    if (b->start)
        memmove(b->buf, b->buf + b->start, have);
    b->start = 0;
    b->end = have;
    if (b->cap - have >= want)
        return 0;
    cap = b->cap * 2 > have + want ? b->cap * 2 : have + want;
    if (cap > PY_SSIZE_T_MAX || !(p = realloc(b->buf, cap))) {
        PyErr_NoMemory();
        return -1;
    }
    b->buf = p;
    b->cap = cap;
    return 0;
}

/* Read once more from httpd into the buffer: count, 0 at the end, -1. */
static long fill(mp_body *b, request_rec *r)
{
    long n;

    if (b->eof)
        return 0;
    if (make_room(b, MP_BODY_CHUNK) < 0)
        return -1;
    if ((n = get_block(b, r, b->buf + b->end, MP_BODY_CHUNK)) > 0)
        b->end += n;
    return n;
}

/* Drop n bytes from the front.  A buffer grown large for one long line
 * does not stay large once that line is gone: it is freed when empty, else
 * cut down to twice what is left (a copy of at most a quarter of it). */
static void consume(mp_body *b, size_t n)
{
    size_t have, cap;
    char *p;

    b->start += n;
    b->clean = b->clean > n ? b->clean - n : 0;
    if (b->cap <= 2 * MP_BODY_CHUNK || (have = unread(b)) > b->cap / 4)
        return;
    if (!have) {
        free(b->buf);
        b->buf = NULL;
        b->cap = b->start = b->end = 0;
        return;
    }
    memmove(b->buf, b->buf + b->start, have);
    b->start = 0;
    b->end = have;
    cap = 2 * (have > MP_BODY_CHUNK ? have : MP_BODY_CHUNK);
    if ((p = realloc(b->buf, cap))) {   /* failing to shrink is harmless */
        b->buf = p;
        b->cap = cap;
    }
}

/* The first n buffered bytes as a new bytes object, consumed. */
static PyObject *take(mp_body *b, size_t n)
{
    PyObject *out = PyBytes_FromStringAndSize(n ? b->buf + b->start : NULL, (Py_ssize_t)n);

    if (out)
        consume(b, n);
    return out;
}

/* read(n) for n < 0 (the rest) or n beyond a chunk: what is buffered, then
 * straight from httpd into the result, which grows geometrically up to n
 * (a client's Content-Length is not trusted for its size). */
static PyObject *read_direct(mp_body *b, request_rec *r, size_t want)
{
    size_t len = unread(b) < want ? unread(b) : want;
    size_t size = want - len < MP_BODY_CHUNK ? want : len + MP_BODY_CHUNK;
    PyObject *out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)size);
    long n;

    if (!out)
        return NULL;
    if (len)
        memcpy(PyBytes_AS_STRING(out), b->buf + b->start, len);
    consume(b, len);
    while (len < want && !b->eof) {
        if (size - len < MP_BODY_CHUNK && size < want) {
            size_t grown = size * 2 < want ? size * 2 : want;
            if (_PyBytes_Resize(&out, (Py_ssize_t)grown) < 0)
                return NULL;   /* out is gone */
            size = grown;
        }
        if ((n = get_block(b, r, PyBytes_AS_STRING(out) + len, size - len)) < 0) {
            Py_DECREF(out);
            return NULL;
        }
        len += (size_t)n;
    }
    if (len < size && _PyBytes_Resize(&out, (Py_ssize_t)len) < 0)
        return NULL;
    return out;
}

PyObject *mp_body_read(mp_body *b, request_rec *r, Py_ssize_t n)
{
    if (setup(b, r) < 0)
        return NULL;
    if (n < 0 || (size_t)n > MP_BODY_CHUNK)
        return read_direct(b, r, n < 0 ? (size_t)PY_SSIZE_T_MAX : (size_t)n);
    while (unread(b) < (size_t)n && !b->eof)
        if (fill(b, r) < 0)
            return NULL;
    return take(b, unread(b) < (size_t)n ? unread(b) : (size_t)n);
}

/* The length of the next line, at most `max`, if the buffer decides it;
 * else -1: more bytes are needed.  Bytes already searched are not again. */
static Py_ssize_t line_length(mp_body *b, size_t max)
{
    size_t upto = unread(b) < max ? unread(b) : max;
    const char *s, *nl;

    if (upto > b->clean) {
        s = b->buf + b->start;
        if ((nl = memchr(s + b->clean, '\n', upto - b->clean))) {
            b->clean = (size_t)(nl - s);
            return (Py_ssize_t)b->clean + 1;
        }
        b->clean = upto;
    }
    if (upto == max || b->eof)
        return (Py_ssize_t)upto;
    return -1;
}

PyObject *mp_body_readline(mp_body *b, request_rec *r, Py_ssize_t limit)
{
    size_t max = limit < 0 ? (size_t)PY_SSIZE_T_MAX : (size_t)limit;
    Py_ssize_t len;

    if (setup(b, r) < 0)
        return NULL;
    while ((len = line_length(b, max)) < 0)
        if (fill(b, r) < 0)
            return NULL;
    return take(b, (size_t)len);
}

PyObject *mp_body_readlines(mp_body *b, request_rec *r, Py_ssize_t hint)
{
    PyObject *out = PyList_New(0), *line = NULL;
    size_t total = 0;

    if (!out)
        return NULL;
    while ((line = mp_body_readline(b, r, -1)) && PyBytes_GET_SIZE(line)) {
        total += (size_t)PyBytes_GET_SIZE(line);
        if (PyList_Append(out, line) < 0)
            goto fail;
        Py_CLEAR(line);
        if (hint > 0 && total >= (size_t)hint)
            return out;
    }
    if (!line)
        goto fail;
    Py_DECREF(line);   /* the empty one: the end of the body */
    return out;

fail:
    Py_XDECREF(line);
    Py_DECREF(out);
    return NULL;
}

void mp_body_release(mp_body *b)
{
    free(b->buf);
    memset(b, 0, sizeof(*b));
}
