/* A connection handler's I/O: conn.read(), readline() and write() over the
 * connection's filter chains, as 3.5 had them: read(len) gives what has
 * arrived, up to len bytes, waiting for at least one; write() flushes.
 * httpd is asked for no more than the call needs (read(len): len bytes;
 * readline(): one line), so what the handler leaves unread stays in httpd;
 * bytes it gave beyond a readline(len) wait in io->in for the next call.
 * The GIL is given up while httpd reads or writes; httpd's Timeout bounds
 * every wait for the client. */
#include "objects/mp_conn_io.h"

/* read() without a length: at most HUGE_STRING_LEN bytes (3.5's 8192). */
#define MP_CONN_READ_DEFAULT HUGE_STRING_LEN
/* What read(-1) asks httpd for at a time. */
#define MP_CONN_CHUNK ((apr_off_t)64 * 1024)

/* The state of `self` for one I/O call, or NULL with RuntimeError. */
static conn_rec *io_begin(PyObject *self, mp_conn_io **io)
{
    conn_rec *c = mp_conn_io_of(self, io);

    if (c && (*io)->busy) {
        /* a hook httpd ran while this thread waited in it came back here:
         * the brigades are in use */
        PyErr_SetString(PyExc_RuntimeError, "the connection is already being "
                        "read or written");
        return NULL;
    }
    return c;
}

/* Move the data of what httpd gave (io->tmp) to the end of io->in (and
 * io->have), set aside for the connection's life; an EOS sets io->eof.
 * Without the GIL: it touches httpd's structures only.  *got tells whether
 * any data came. */
static apr_status_t keep_data(mp_conn_io *io, conn_rec *c, int *got)
{
    apr_status_t st;
    apr_bucket *b;
    const char *data;
    apr_size_t len;

    while ((b = APR_BRIGADE_FIRST(io->tmp)) != APR_BRIGADE_SENTINEL(io->tmp)) {
        if (APR_BUCKET_IS_EOS(b))
            io->eof = 1;
        /* reading a bucket of unknown length (a socket's) makes it data */
        if (!APR_BUCKET_IS_METADATA(b) &&
            (st = apr_bucket_read(b, &data, &len, APR_BLOCK_READ)) != APR_SUCCESS)
            return st;
        if (APR_BUCKET_IS_METADATA(b) || !b->length) {
            apr_bucket_delete(b);
            continue;
        }
        if ((st = apr_bucket_setaside(b, c->pool)) != APR_SUCCESS)
            return st;
        io->have += b->length;
        *got = 1;
        APR_BUCKET_REMOVE(b);
        APR_BRIGADE_INSERT_TAIL(io->in, b);
    }
    return APR_SUCCESS;
}

static int read_error(apr_status_t st)
{
    char msg[120];

    apr_strerror(st, msg, sizeof(msg));
    PyErr_Format(APR_STATUS_IS_TIMEUP(st) ? PyExc_TimeoutError : PyExc_OSError,
                 "Connection read error: %s", msg);
    return -1;
}

/* One call into httpd for input, in `mode`, at most n bytes; its data
 * appended to io->in, the GIL given up meanwhile.  0 (io->eof set at the
 * end of the input), or -1 with OSError (TimeoutError after Timeout). */
static int fetch(mp_conn_io *io, conn_rec *c, ap_input_mode_t mode, apr_off_t n)
{
    apr_status_t st;
    mp_interp *in;
    int got = 0;

    if (io->eof)
        return 0;
    io->busy = 1;
    in = mp_interp_suspend();
    st = ap_get_brigade(c->input_filters, io->tmp, mode, APR_BLOCK_READ, n);
    if (st == APR_SUCCESS)
        st = keep_data(io, c, &got);
    apr_brigade_cleanup(io->tmp);
    mp_interp_resume(in);
    io->busy = 0;
    /* a blocking read that gives nothing is the end too (httpd's core
     * filter says APR_EOF only on the read after) */
    if (st == APR_EOF || (st == APR_SUCCESS && !got))
        io->eof = 1;
    else if (st != APR_SUCCESS)
        return read_error(st);
    return 0;
}

/* The first n (<= io->have) bytes of io->in as a new bytes object,
 * consumed.  The buckets are in memory: reading them cannot block. */
static PyObject *take(mp_conn_io *io, apr_size_t n)
{
    PyObject *out = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)n);
    char *p = out ? PyBytes_AS_STRING(out) : NULL;
    apr_size_t left = n, len;
    const char *data;
    apr_bucket *b;

    while (out && left) {
        b = APR_BRIGADE_FIRST(io->in);
        if (apr_bucket_read(b, &data, &len, APR_BLOCK_READ) != APR_SUCCESS) {
            PyErr_SetString(PyExc_OSError, "Connection read error: a buffered bucket "
                            "cannot be read");
            Py_CLEAR(out);
            break;
        }
        if (len > left) {
            apr_bucket_split(b, left);
            len = left;
        }
        memcpy(p, data, len);
        p += len;
        left -= len;
        apr_bucket_delete(b);
    }
    io->have -= n - left;
    io->clean = io->clean > n - left ? io->clean - (n - left) : 0;
    return out;
}

/* read(-1): everything until the client closes its side. */
static PyObject *read_all(mp_conn_io *io, conn_rec *c)
{
    while (!io->eof)
        if (fetch(io, c, AP_MODE_READBYTES, MP_CONN_CHUNK) < 0)
            return NULL;
    return take(io, io->have);
}

PyObject *mp_conn_read(PyObject *self, PyObject *args)
{
    Py_ssize_t n = 0;
    mp_conn_io *io;
    conn_rec *c;

    if (!PyArg_ParseTuple(args, "|n:read", &n) || !(c = io_begin(self, &io)))
        return NULL;
    if (n < 0)
        return read_all(io, c);
    if (n == 0)
        n = MP_CONN_READ_DEFAULT;  /* 3.5: read(0) is read() */
    if (!io->have && fetch(io, c, AP_MODE_READBYTES, (apr_off_t)n) < 0)
        return NULL;
    return take(io, io->have < (apr_size_t)n ? io->have : (apr_size_t)n);
}

/* The length of the next line, at most `max`, if io->in decides it; else
 * -1: more bytes are needed.  Bytes searched before are not again. */
static Py_ssize_t line_length(mp_conn_io *io, apr_size_t max)
{
    apr_size_t upto = io->have < max ? io->have : max, off = 0, len, from, to;
    const char *data, *nl;
    apr_bucket *b;

    for (b = APR_BRIGADE_FIRST(io->in); io->clean < upto && b != APR_BRIGADE_SENTINEL(io->in);
         off += len, b = APR_BUCKET_NEXT(b)) {
        if (apr_bucket_read(b, &data, &len, APR_BLOCK_READ) != APR_SUCCESS)
            return (Py_ssize_t)upto;  /* cannot happen (memory); take() says */
        if (off + len <= io->clean)
            continue;
        from = io->clean - off;
        to = len < upto - off ? len : upto - off;
        if ((nl = memchr(data + from, '\n', to - from))) {
            io->clean = off + (apr_size_t)(nl - data);
            return (Py_ssize_t)io->clean + 1;
        }
        io->clean = off + to;
    }
    return upto == max || io->eof ? (Py_ssize_t)upto : -1;
}

PyObject *mp_conn_readline(PyObject *self, PyObject *args)
{
    Py_ssize_t limit = 0, len;
    mp_conn_io *io;
    conn_rec *c;

    if (!PyArg_ParseTuple(args, "|n:readline", &limit) || !(c = io_begin(self, &io)))
        return NULL;
    /* 0 or less: no limit (3.5's default was 0) */
    while ((len = line_length(io, limit > 0 ? (apr_size_t)limit : (apr_size_t)-1)) < 0)
        if (fetch(io, c, AP_MODE_GETLINE, MP_CONN_READ_DEFAULT) < 0)
            return NULL;
    return take(io, (apr_size_t)len);
}

/* Send data and a flush down the connection's output filters, without
 * the GIL.  The bucket is transient: a filter that keeps it copies it. */
static apr_status_t send_flushed(mp_conn_io *io, conn_rec *c, const char *data,
                                 apr_size_t len)
{
    apr_status_t st;
    mp_interp *in;

    io->busy = 1;
    in = mp_interp_suspend();
    APR_BRIGADE_INSERT_TAIL(io->tmp, apr_bucket_transient_create(data, len,
                                                                 c->bucket_alloc));
    APR_BRIGADE_INSERT_TAIL(io->tmp, apr_bucket_flush_create(c->bucket_alloc));
    st = ap_pass_brigade(c->output_filters, io->tmp);
    apr_brigade_cleanup(io->tmp);
    mp_interp_resume(in);
    io->busy = 0;
    return st;
}

PyObject *mp_conn_write(PyObject *self, PyObject *data)
{
    apr_status_t st = APR_SUCCESS;
    Py_buffer buf;
    mp_conn_io *io;
    conn_rec *c;

    if (!(c = io_begin(self, &io)) || mp_data_buffer(data, &buf, "write()") < 0)
        return NULL;
    if (buf.len)   /* 3.5 sent nothing, not even a flush, for no data */
        st = send_flushed(io, c, buf.buf, (apr_size_t)buf.len);
    PyBuffer_Release(&buf);
    if (st != APR_SUCCESS) {
        PyErr_SetString(PyExc_OSError, "Write failed, client closed connection.");
        return NULL;
    }
    Py_RETURN_NONE;
}
