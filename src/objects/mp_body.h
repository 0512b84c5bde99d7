/* The request body as req.read(), readline() and readlines() see it: bytes
 * read ahead from httpd (by readline() and small reads) wait in a buffer
 * that is consumed from the front.  Linear in the body's size, whatever
 * the calls. */
#ifndef MP_BODY_H
#define MP_BODY_H

#include "objects/mp_objects.h"

typedef struct mp_body {
    char *buf;          /* malloc()ed, `cap` bytes; NULL before the first read */
    size_t cap;
    size_t start, end;  /* the bytes read ahead and not consumed yet */
    size_t clean;       /* buf[start, start + clean) holds no newline */
    int ready;          /* ap_setup_client_block() done */
    int eof;            /* httpd has given the whole body */
    int busy;           /* this thread waits in httpd for body bytes */
} mp_body;

/* All three take the GIL held and give it up while httpd reads.  NULL with
 * OSError when the body cannot be read, MemoryError when it cannot be held,
 * RuntimeError if called again while a read waits in httpd. */

/* Up to n bytes, fewer only at the end of the body; n < 0: all the rest. */
PyObject *mp_body_read(mp_body *b, request_rec *r, Py_ssize_t n);
/* One line, newline included; at most `limit` bytes when limit >= 0. */
PyObject *mp_body_readline(mp_body *b, request_rec *r, Py_ssize_t limit);
/* Whole lines, until the end or until their total size reaches hint > 0. */
PyObject *mp_body_readlines(mp_body *b, request_rec *r, Py_ssize_t hint);

/* Free the buffer and forget the state (a zeroed mp_body is a fresh one). */
void mp_body_release(mp_body *b);

#endif
