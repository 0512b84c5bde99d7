/* Python filters: the filter object (mp_filter.c) and what it shares with
 * httpd's filter functions (httpd/mp_filter.c) and with the request
 * methods that add filters (mp_req_filter.c). */
#ifndef MP_FILTER_H
#define MP_FILTER_H

#include "objects/mp_objects.h"

/* One Python filter in one request: f->ctx of the httpd filter, in the
 * request's pool.  httpd calls the filter once per brigade; each call
 * gets its own filter object, valid during that call only (its scope),
 * and these fields carry over from call to call. */
typedef struct mp_filter_state {
    ap_filter_t *f;          /* set at every call */
    const mp_handler *h;
    const char *name;        /* filter.name */
    int is_input;

    /* this call */
    apr_bucket_brigade *in;  /* output: the brigade httpd passed */
    ap_input_mode_t mode;    /* input: what the reader asked for */
    apr_read_type_e block;
    apr_off_t readbytes;
    int fetched;             /* input: the filter fetched from upstream */
    int progress;            /* the filter consumed input */
    apr_status_t rc;         /* last status from the rest of the chain */

    /* across calls */
    apr_bucket_brigade *pending; /* input: fetched, not read by the filter */
    apr_bucket_brigade *out;     /* written by the filter, not given on yet */
    apr_bucket_brigade *tmp;     /* scratch, empty between uses */
    apr_size_t out_len;      /* output: bytes in `out` */
    int eos_in;              /* the filter read the end of the stream */
    int closed;              /* the filter wrote the end of the stream */
    int disabled;            /* Python is not called any more */
    int flush;               /* output: a FLUSH came in during this call */
    int sent;                /* output: something was passed on */
    int length_dropped;      /* output: Content-Length unset (first write) */
    int busy;                /* a call runs (httpd re-entered: pass through) */
} mp_filter_state;

/* A new state for filter `name` running `h`, in r's pool. */
mp_filter_state *mp_filter_state_new(request_rec *r, const mp_handler *h, const char *name,
                                     int is_input);

/* The filter object of one call of `fs` (fs->f set), with request object
 * `req`; NULL with an exception. */
PyObject *mp_filter_new(mp_pystate *st, mp_filter_state *fs, PyObject *req);
/* The call is over: the object refuses from now on (RuntimeError). */
void mp_filter_end(PyObject *filter);

/* Output: pass what the filter wrote (fs->out) to the next filter, with
 * a FLUSH bucket after it when `flush`; the status.  Without the GIL, or
 * with it given up by the caller. */
apr_status_t mp_filter_pass_out(mp_filter_state *fs, int flush);

#endif
