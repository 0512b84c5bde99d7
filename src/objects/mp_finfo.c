/* mp_finfo: APR's file information (apr_finfo_t) as mod_python 3.5 showed
 * it: req.finfo and _apache.stat().  An mp_finfo is a copy, its own (no
 * httpd pointer in it), so it may be kept and used anywhere; a field APR
 * did not fill in (not in `valid`) reads None.  Also the constants that go
 * with it. */
#include "objects/mp_apachefn.h"
#include "objects/mp_finfo.h"
#include "objects/mp_req_http.h"

#include "apr_file_info.h"

typedef struct {
    PyObject_HEAD
    apr_finfo_t f;        /* pool and filehand NULL, fname and name unused: */
    char *fname, *name;   /* our copies (PyMem), or NULL */
} mp_finfo;

/* Sequence indexes: 3.5's apache.FINFO_* */
enum {
    FI_MODE, FI_INO, FI_DEV, FI_NLINK, FI_UID, FI_GID, FI_SIZE, FI_ATIME,
    FI_MTIME, FI_CTIME, FI_FNAME, FI_NAME, FI_FILETYPE, FI_COUNT,
    FI_VALID = FI_COUNT   /* an attribute only */
};

/* What `valid` must have for each index to read other than None. */
static const apr_int32_t fi_needs[FI_COUNT] = {
    APR_FINFO_PROT, APR_FINFO_INODE, APR_FINFO_DEV, APR_FINFO_NLINK, APR_FINFO_USER,
    APR_FINFO_GROUP, APR_FINFO_SIZE, APR_FINFO_ATIME, APR_FINFO_MTIME, APR_FINFO_CTIME,
    0, APR_FINFO_NAME, 0
};

static void finfo_dealloc(mp_finfo *self);

static char *dup_or_null(const char *s)
{
    char *d;

    if (!s)
        return NULL;
    if ((d = PyMem_Malloc(strlen(s) + 1)))
        strcpy(d, s);
    return d;
}

static PyObject *finfo_new(PyTypeObject *type, const apr_finfo_t *f)
{
    mp_finfo *self = (mp_finfo *)type->tp_alloc(type, 0);

    if (!self)
        return NULL;
    self->f = *f;
    self->f.pool = NULL;
    self->f.filehand = NULL;
    self->f.fname = self->f.name = NULL;
    self->fname = dup_or_null(f->fname);
    self->name = (f->valid & APR_FINFO_NAME) ? dup_or_null(f->name) : NULL;
    if ((f->fname && !self->fname) || ((f->valid & APR_FINFO_NAME) && f->name && !self->name)) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    return (PyObject *)self;
}

/* Ours, of any interpreter: found by the deallocator, as tables are. */
static mp_finfo *as_finfo(PyObject *o)
{
    return Py_TYPE(o)->tp_dealloc == (destructor)finfo_dealloc ? (mp_finfo *)o : NULL;
}

static PyObject *finfo_field(mp_finfo *self, Py_ssize_t i)
{
    const apr_finfo_t *f = &self->f;

    /* No file: only its name and type (httpd leaves what it found of a
     * parent directory in the other fields); 3.5 read them as None. */
    if (f->filetype == APR_NOFILE && i != FI_FNAME && i != FI_FILETYPE)
        Py_RETURN_NONE;
    if (i == FI_VALID && !f->valid)
        Py_RETURN_NONE;
    if (i == FI_VALID)
        return PyLong_FromLong(f->valid);
    if (fi_needs[i] && !(f->valid & fi_needs[i]))
        Py_RETURN_NONE;
    switch (i) {
    case FI_MODE: return PyLong_FromLong(f->protection);
    case FI_INO: return PyLong_FromUnsignedLongLong(f->inode);
    case FI_DEV: return PyLong_FromUnsignedLongLong(f->device);
    case FI_NLINK: return PyLong_FromLong(f->nlink);
    case FI_UID: return PyLong_FromUnsignedLong(f->user);
    case FI_GID: return PyLong_FromUnsignedLong(f->group);
    case FI_SIZE: return PyLong_FromLongLong(f->size);
    /* whole seconds, as 3.5 gave them */
    case FI_ATIME: return PyLong_FromLongLong(apr_time_sec(f->atime));
    case FI_MTIME: return PyLong_FromLongLong(apr_time_sec(f->mtime));
    case FI_CTIME: return PyLong_FromLongLong(apr_time_sec(f->ctime));
    case FI_FNAME: return mp_str_from_c(self->fname);
    case FI_NAME: return mp_str_from_c(self->name);
    default: return PyLong_FromLong(f->filetype);
    }
}

static PyObject *finfo_get(mp_finfo *self, void *which)
{
    return finfo_field(self, (Py_ssize_t)(intptr_t)which);
}

/* finfo[apache.FINFO_*]; no len(), and no negative index, as in 3.5. */
static PyObject *finfo_item(mp_finfo *self, Py_ssize_t i)
{
    if (i < 0 || i >= FI_COUNT) {
        PyErr_SetString(PyExc_IndexError, "finfo index out of range");
        return NULL;
    }
    return finfo_field(self, i);
}

/* The attributes, in the order 3.5's repr listed them. */
#define FINFO_ATTRS(X) \
    X(fname, FI_FNAME) X(filetype, FI_FILETYPE) X(valid, FI_VALID) \
    X(protection, FI_MODE) X(user, FI_UID) X(group, FI_GID) X(size, FI_SIZE) \
    X(inode, FI_INO) X(device, FI_DEV) X(nlink, FI_NLINK) X(atime, FI_ATIME) \
    X(mtime, FI_MTIME) X(ctime, FI_CTIME) X(name, FI_NAME)

/* A dict's repr, as 3.5's. */
static PyObject *finfo_repr(mp_finfo *self)
{
    PyObject *d = PyDict_New(), *v, *r = NULL;

    if (!d)
        return NULL;
#define X(attr, i) \
    if (!(v = finfo_field(self, i)) || PyDict_SetItemString(d, #attr, v) < 0) \
        goto done; \
    Py_DECREF(v);
    FINFO_ATTRS(X)
#undef X
    v = NULL;
    r = PyObject_Repr(d);
done:
    Py_XDECREF(v);
    Py_DECREF(d);
    return r;
}

static void finfo_dealloc(mp_finfo *self)
{
    PyTypeObject *type = Py_TYPE(self);

    PyMem_Free(self->fname);
    PyMem_Free(self->name);
    type->tp_free(self);
    Py_DECREF(type);
}

static PyGetSetDef finfo_getset[] = {
#define X(attr, i) {#attr, (getter)finfo_get, NULL, NULL, (void *)(intptr_t)i},
    FINFO_ATTRS(X)
#undef X
    {NULL}
};

static PyType_Slot finfo_slots[] = {
    {Py_tp_doc, "file information (apr_finfo_t): req.finfo, apache.stat()"},
    {Py_tp_dealloc, finfo_dealloc},
    {Py_tp_repr, finfo_repr},
    {Py_tp_getset, finfo_getset},
    {Py_sq_item, finfo_item},
    {0, NULL}
};

static PyType_Spec finfo_spec = {
    .name = "mod_python.mp_finfo",
    .basicsize = sizeof(mp_finfo),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_DISALLOW_INSTANTIATION |
             Py_TPFLAGS_IMMUTABLETYPE,
    .slots = finfo_slots,
};

PyTypeObject *mp_finfo_type_new(PyObject *module)
{
    return (PyTypeObject *)PyType_FromModuleAndSpec(module, &finfo_spec, NULL);
}

/* ------------------------------------------------------------ stat, req.finfo */

/* An error apr_stat() gave as OSError (the subclass its errno calls for). */
static void stat_error(apr_status_t rv, const char *path)
{
    char msg[120];
    PyObject *args = Py_BuildValue("(isN)", (int)rv, apr_strerror(rv, msg, sizeof(msg)),
                                   mp_str_from_c(path));

    if (args)
        PyErr_SetObject(PyExc_OSError, args);
    Py_XDECREF(args);
}

PyObject *mp_ap_stat(PyObject *module, PyObject *args)
{
    mp_pystate *st = PyModule_GetState(module);
    PyObject *name, *out = NULL;
    const char *path;
    apr_int32_t wanted;
    apr_status_t rv;
    apr_finfo_t f;
    apr_pool_t *p;

    if (!PyArg_ParseTuple(args, "Oi:stat", &name, &wanted))
        return NULL;
    if (apr_pool_create(&p, NULL) != APR_SUCCESS)
        return PyErr_NoMemory();
    if (!(path = mp_str_to_c(p, name, "file name", 0)))
        goto done;
    memset(&f, 0, sizeof(f));
    Py_BEGIN_ALLOW_THREADS   /* a slow disk or NFS */
    rv = apr_stat(&f, path, wanted, p);
    Py_END_ALLOW_THREADS
    /* A missing file is an answer (filetype APR_NOFILE, nothing valid), as
     * in 3.5; APR_INCOMPLETE: what APR could not tell reads None. */
    if (APR_STATUS_IS_ENOENT(rv))
        memset(&f, 0, sizeof(f));
    else if (rv != APR_SUCCESS && rv != APR_INCOMPLETE) {
        stat_error(rv, path);
        goto done;
    }
    out = finfo_new(st->finfo_type, &f);
done:
    apr_pool_destroy(p);
    return out;
}

PyObject *mp_req_get_finfo(PyObject *self, void *unused)
{
    request_rec *r = mp_request_rec(self);

    if (!r)
        return NULL;
    return finfo_new(mp_pystate_of_type(Py_TYPE(self))->finfo_type, &r->finfo);
}

/* 3.5's publisher: req.finfo = apache.stat(req.filename, APR_FINFO_MIN). */
int mp_req_set_finfo(PyObject *self, PyObject *value, void *unused)
{
    request_rec *r = mp_request_rec(self);
    mp_finfo *fi;

    if (!r)
        return -1;
    if (!value || !(fi = as_finfo(value))) {
        PyErr_Format(PyExc_TypeError, "req.finfo must be an mp_finfo (from apache.stat()), "
                     "not %.100s", value ? Py_TYPE(value)->tp_name : "deleted");
        return -1;
    }
    r->finfo = fi->f;
    r->finfo.pool = r->pool;
    r->finfo.fname = fi->fname ? apr_pstrdup(r->pool, fi->fname) : NULL;
    r->finfo.name = fi->name ? apr_pstrdup(r->pool, fi->name) : NULL;
    return 0;
}

/* ------------------------------------------------------------ constants */

int mp_finfo_add_constants(PyObject *m)
{
#define C(name) {#name, name}
#define FI(name) {"FINFO_" #name, FI_##name}
    static const struct { const char *name; long value; } consts[] = {
        C(APR_NOFILE), C(APR_REG), C(APR_DIR), C(APR_CHR), C(APR_BLK), C(APR_PIPE),
        C(APR_LNK), C(APR_SOCK), C(APR_UNKFILE),
        C(APR_FINFO_LINK), C(APR_FINFO_MTIME), C(APR_FINFO_CTIME), C(APR_FINFO_ATIME),
        C(APR_FINFO_SIZE), C(APR_FINFO_CSIZE), C(APR_FINFO_DEV), C(APR_FINFO_INODE),
        C(APR_FINFO_NLINK), C(APR_FINFO_TYPE), C(APR_FINFO_USER), C(APR_FINFO_GROUP),
        C(APR_FINFO_UPROT), C(APR_FINFO_GPROT), C(APR_FINFO_WPROT), C(APR_FINFO_ICASE),
        C(APR_FINFO_NAME), C(APR_FINFO_MIN), C(APR_FINFO_IDENT), C(APR_FINFO_OWNER),
        C(APR_FINFO_PROT), C(APR_FINFO_NORM), C(APR_FINFO_DIRENT),
        FI(MODE), FI(INO), FI(DEV), FI(NLINK), FI(UID), FI(GID), FI(SIZE), FI(ATIME),
        FI(MTIME), FI(CTIME), FI(FNAME), FI(NAME), FI(FILETYPE),
        C(AP_REQ_ACCEPT_PATH_INFO), C(AP_REQ_REJECT_PATH_INFO), C(AP_REQ_DEFAULT_PATH_INFO),
    };
#undef C
#undef FI

    for (size_t i = 0; i < sizeof(consts) / sizeof(consts[0]); i++)
        if (PyModule_AddIntConstant(m, consts[i].name, consts[i].value) < 0)
            return -1;
    return 0;
}
