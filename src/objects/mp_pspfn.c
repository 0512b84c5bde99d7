/* _apache.psp_parse / psp_parsestring: the PSP translator of base/mp_psp.c
 * with files read here, in plain C, so the whole translation runs without
 * the GIL.  What 3.5's _psp did, except that a missing included file is an
 * OSError instead of a crash, and includes nested too deep (or too many of
 * them) a ValueError instead of a stack overflow. */
#include "objects/mp_pspfn.h"

#include "base/mp_psp.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

/* A template bigger than this is refused (EFBIG): it is not a page. */
#define PSP_MAX_FILE (64 << 20)

typedef struct {
    const char *dir;   /* names are under it; NULL: as they are */
    char **read;       /* every file read, in order (malloc'd) */
    size_t nread;
    char *failed;      /* the file that could not be read */
} psp_files;

/* Read fd to its end into *buf (of *cap bytes, grown as needed): 0 with
 * *len, or an errno. */
static int read_all(int fd, char **buf, size_t *cap, size_t *len)
{
    size_t n = 0;
    char *p;

    for (;;) {
        ssize_t got;
        if (n == *cap) {
            if (*cap > PSP_MAX_FILE)
                return EFBIG;
            if (!(p = realloc(*buf, *cap * 2)))
                return ENOMEM;
            *buf = p;
            *cap *= 2;
        }
        got = read(fd, *buf + n, *cap - n);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0)
            return errno;
        if (got == 0)
            break;
        n += (size_t)got;
    }
    *len = n;
    return 0;
}

/* The whole of `path`: 0 with *text (malloc'd) and *len, or an errno. */
static int read_file(const char *path, char **text, size_t *len)
{
    struct stat st;
    size_t cap = 0;
    char *buf = NULL;
    int fd = open(path, O_RDONLY | O_CLOEXEC), rc = 0;

    if (fd < 0)
        return errno;
    if (fstat(fd, &st) < 0)
        rc = errno;
    else if (S_ISDIR(st.st_mode))
        rc = EISDIR;
    else if (st.st_size > PSP_MAX_FILE)
        rc = EFBIG;
    else if (!(buf = malloc(cap = (size_t)st.st_size + 1)))  /* +1: sees the end */
        rc = ENOMEM;
    else
        rc = read_all(fd, &buf, &cap, len);
    close(fd);
    if (rc) {
        free(buf);
        return rc;
    }
    *text = buf;
    return 0;
}

/* dir/name (name as it is when absolute, or without dir); NULL when name
 * holds a NUL (no such file) or with no memory. */
static char *join(const char *dir, const char *name, size_t nlen)
{
    size_t dlen = dir && name[0] != '/' ? strlen(dir) : 0;
    int slash = dlen && dir[dlen - 1] != '/';
    char *path;

    if (memchr(name, '\0', nlen) || !(path = malloc(dlen + slash + nlen + 1)))
        return NULL;
    memcpy(path, dir, dlen);
    if (slash)
        path[dlen] = '/';
    memcpy(path + dlen + slash, name, nlen);
    path[dlen + slash + nlen] = '\0';
    return path;
}

/* mp_psp_load_fn: no Python here, the GIL is not held. */
static int load(void *data, const char *name, size_t nlen, char **text, size_t *len)
{
    psp_files *f = data;
    char *path = join(f->dir, name, nlen), **more;
    int rc;

    if (!path)
        return memchr(name, '\0', nlen) ? ENOENT : ENOMEM;
    if ((rc = read_file(path, text, len))) {
        free(f->failed);
        f->failed = path;
        return rc;
    }
    if (!(more = realloc(f->read, (f->nread + 1) * sizeof(*more)))) {
        free(path);
        free(*text);
        return ENOMEM;
    }
    f->read = more;
    f->read[f->nread++] = path;
    return 0;
}

static void files_free(psp_files *f)
{
    for (size_t i = 0; i < f->nread; i++)
        free(f->read[i]);
    free(f->read);
    free(f->failed);
}

/* The Python result of a translation: the source, or NULL with the
 * exception that says why not. */
static PyObject *result(int rc, const mp_psp_buf *out, const psp_files *f)
{
    const char *last = f->nread ? f->read[f->nread - 1] : "<string>";

    if (rc == 0)
        return PyUnicode_DecodeUTF8(out->data ? out->data : "", (Py_ssize_t)out->len, NULL);
    if (rc == MP_PSP_NOMEM)
        return PyErr_NoMemory();
    if (rc == MP_PSP_TOO_DEEP || rc == MP_PSP_TOO_MANY) {
        PyErr_Format(PyExc_ValueError, rc == MP_PSP_TOO_DEEP ?
                     "PSP includes nested more than %d deep, in %s" :
                     "PSP page includes more than %d files, the last %s",
                     rc == MP_PSP_TOO_DEEP ? MP_PSP_MAX_DEPTH : MP_PSP_MAX_INCLUDES, last);
        return NULL;
    }
    if (f->failed) {
        PyObject *name = PyUnicode_DecodeFSDefault(f->failed), *e;
        e = name ? PyObject_CallFunction(PyExc_OSError, "isO", rc, strerror(rc), name) : NULL;
        if (e)
            PyErr_SetObject((PyObject *)Py_TYPE(e), e);
        Py_XDECREF(e);
        Py_XDECREF(name);
        return NULL;
    }
    errno = rc;
    return PyErr_SetFromErrno(PyExc_OSError);
}

/* Translate `src` (or, when NULL, the file f->dir/name), without the GIL. */
static PyObject *translate(const char *src, size_t len, const char *name, psp_files *f)
{
    mp_psp_buf out = { 0 };
    char *text = NULL;
    PyObject *source;
    int rc = 0;

    Py_BEGIN_ALLOW_THREADS
    if (!src && !(rc = load(f, name, strlen(name), &text, &len)))
        src = text;
    if (!rc)
        rc = mp_psp_translate(src, len, load, f, &out);
    Py_END_ALLOW_THREADS
    free(text);
    source = result(rc, &out, f);
    mp_psp_buf_free(&out);
    return source;
}

/* The files f read after the first (the template), into `list`. */
static int add_includes(PyObject *list, const psp_files *f)
{
    for (size_t i = 1; i < f->nread; i++) {
        PyObject *p = PyUnicode_DecodeFSDefault(f->read[i]);
        int rc = p ? PyList_Append(list, p) : -1;
        Py_XDECREF(p);
        if (rc < 0)
            return -1;
    }
    return 0;
}

PyObject *mp_ap_psp_parse(PyObject *module, PyObject *args, PyObject *kw)
{
    static char *kwlist[] = {"filename", "dir", "includes", NULL};
    PyObject *name = NULL, *dir = NULL, *dirarg = Py_None, *includes = Py_None;
    PyObject *source = NULL;
    psp_files f = { 0 };

    if (!PyArg_ParseTupleAndKeywords(args, kw, "O&|OO:psp_parse", kwlist,
                                     PyUnicode_FSConverter, &name, &dirarg, &includes))
        return NULL;
    if (includes != Py_None && !PyList_Check(includes)) {
        PyErr_SetString(PyExc_TypeError, "psp_parse(): includes must be a list or None");
        goto done;
    }
    if (dirarg != Py_None && !PyUnicode_FSConverter(dirarg, &dir))
        goto done;
    f.dir = dir ? PyBytes_AS_STRING(dir) : NULL;
    source = translate(NULL, 0, PyBytes_AS_STRING(name), &f);
    if (source && includes != Py_None && add_includes(includes, &f) < 0)
        Py_CLEAR(source);
done:
    files_free(&f);
    Py_XDECREF(name);
    Py_XDECREF(dir);
    return source;
}

/* Includes in a string template are named from the current directory, or
 * absolute (3.5 crashed on them). */
PyObject *mp_ap_psp_parsestring(PyObject *module, PyObject *text)
{
    psp_files f = { 0 };
    Py_ssize_t len;
    const char *s;
    PyObject *source;

    if (PyUnicode_Check(text)) {
        if (!(s = PyUnicode_AsUTF8AndSize(text, &len)))
            return NULL;
    } else if (PyBytes_Check(text)) {
        s = PyBytes_AS_STRING(text);
        len = PyBytes_GET_SIZE(text);
    } else {
        PyErr_Format(PyExc_TypeError, "parsestring() argument must be str or bytes, not %.100s",
                     Py_TYPE(text)->tp_name);
        return NULL;
    }
    /* the str or bytes is immutable and referenced by the caller: its
     * buffer stays valid without the GIL */
    source = translate(s, (size_t)len, NULL, &f);
    files_free(&f);
    return source;
}
