/* The connection object's I/O (mp_conn_io.c): 3.5's conn.read(),
 * readline() and write() for connection handlers, over the connection's
 * filter chains.  Private to objects/: the connection type lists them
 * (mp_server.c). */
#ifndef MP_CONN_IO_H
#define MP_CONN_IO_H

#include "objects/mp_objects.h"

/* What a connection handler's object keeps between calls.  Its brigades
 * live in the connection's pool: they are touched only through
 * mp_conn_io_of(), while the connection handler runs. */
typedef struct mp_conn_io {
    apr_bucket_brigade *in;  /* read from httpd and not consumed yet */
    apr_bucket_brigade *tmp; /* what one call into httpd gives, or sends */
    apr_size_t have;         /* bytes in `in` */
    apr_size_t clean;        /* the first `clean` of them hold no newline */
    int eof;                 /* the client has closed its side */
    int busy;                /* this thread waits in httpd (GIL given up) */
} mp_conn_io;

/* The conn_rec of connection object `conn` and its I/O state, made on
 * first use: in a connection handler, in the thread running it; else
 * NULL with RuntimeError. */
conn_rec *mp_conn_io_of(PyObject *conn, mp_conn_io **io);

PyObject *mp_conn_read(PyObject *self, PyObject *args);
PyObject *mp_conn_readline(PyObject *self, PyObject *args);
PyObject *mp_conn_write(PyObject *self, PyObject *data);

#define MP_CONN_IO_METHODS \
    {"read", mp_conn_read, METH_VARARGS, \
     "read([len]): up to len bytes (default 8192), waiting for at least one; " \
     "-1: all until the client closes; b'' at the end"}, \
    {"readline", mp_conn_readline, METH_VARARGS, \
     "readline([len]): one line, newline included, at most len bytes if given; " \
     "b'' at the end"}, \
    {"write", mp_conn_write, METH_O, \
     "write(data): send bytes (str as UTF-8) and flush them to the client"},

#endif
