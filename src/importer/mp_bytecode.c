/* The importer's on-disk bytecode cache (see mp_bytecode.h).
 *
 * An entry file is a header, the module's path, its source, and the code
 * object as marshal writes it.  It is trusted only when everything in it
 * says so: own magic and format version, importlib's magic number, the
 * optimization level, lengths that add up to the file's size exactly, the
 * same path and the same source bytes (compared, not hashed: no collision
 * question, and mtimes are too coarse to tell two quick saves apart), and
 * a checksum over the header and the marshalled code, so that a torn or
 * damaged file is never unmarshalled (marshal does not defend against
 * corrupt input).  Files are written to a temporary name and renamed over
 * the entry, so a reader sees a whole old file or a whole new one; a crash
 * of the machine between write and rename leaves at worst a short file,
 * which the checks refuse, hence no fsync().
 *
 * The entry's name comes from the path, so two paths with the same hash
 * share a file and overwrite each other's entries (each is then a miss for
 * the other, never a wrong hit).  The name also carries Python's cache tag
 * (e.g. "cpython-311"), so that two Pythons sharing a directory keep
 * separate files instead of overwriting each other's at every import. */
#include "importer/mp_bytecode.h"

#include <marshal.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define BC_MAGIC     "MPBC"
#define BC_VERSION   1
#define BC_MAX_PATH  4096
/* No module comes near this; a bigger size is damage, or not ours. */
#define BC_MAX_FILE  ((uint64_t)64 << 20)
#define BC_MIX       UINT64_C(0x9e3779b97f4a7c15)

/* Written as it is in memory: the cache is local to one machine, and a
 * file of another byte order fails the version check. */
typedef struct {
    char magic[4];          /* BC_MAGIC */
    uint32_t version;       /* BC_VERSION: this layout */
    uint32_t pymagic;       /* importlib's magic number of the compiler */
    int32_t optimize;       /* optimization level, >= 0 */
    uint32_t path_len;
    uint32_t reserved;      /* 0 */
    uint64_t src_len;
    uint64_t code_len;
    uint64_t sum;           /* sum_add() of the fields above, then the code */
} bc_header;

_Static_assert(sizeof(bc_header) == 48, "bc_header has no padding");

/* What names an entry and what it must have been compiled with, gathered
 * with the GIL held so that the file I/O needs no Python. */
typedef struct {
    char file[PATH_MAX];    /* DIR/<hash>.<tag>.mpc */
    uint32_t pymagic;
    int32_t optimize;
} bc_key;

/* ------------------------------------------------------------ sums */

static uint64_t fnv1a(const char *s)
{
    uint64_t h = UINT64_C(0xcbf29ce484222325);

    while (*s)
        h = (h ^ (unsigned char)*s++) * UINT64_C(0x100000001b3);
    return h;
}

/* A fast checksum, 8 bytes a step.  Each step is a bijection of the state
 * for a given word, and of the word for a given state, so any change
 * confined to one word always changes the result. */
static uint64_t sum_add(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    uint64_t w;

    for (; n >= 8; b += 8, n -= 8) {
        memcpy(&w, b, 8);
        h = (h ^ w) * BC_MIX;
        h ^= h >> 32;
    }
    if (n) {
        w = 0;
        memcpy(&w, b, n);
        h = (h ^ w) * BC_MIX;
        h ^= h >> 32;
    }
    return h;
}

/* The path and source are compared byte for byte on load: the sum covers
 * what is not, the header and the marshalled code. */
static uint64_t entry_sum(const bc_header *h, const char *code)
{
    uint64_t s = sum_add(BC_MIX ^ h->code_len, h, offsetof(bc_header, sum));

    return sum_add(s, code, h->code_len);
}

/* ------------------------------------------------------------ key */

/* sys.implementation.cache_tag, e.g. "cpython-311"; -1 when None (the
 * implementation writes no bytecode) or unusable in a file name. */
static int cache_tag(char *tag, size_t size)
{
    PyObject *impl = PySys_GetObject("implementation");  /* borrowed */
    PyObject *t = impl ? PyObject_GetAttrString(impl, "cache_tag") : NULL;
    const char *s = t && PyUnicode_Check(t) ? PyUnicode_AsUTF8(t) : NULL;
    int rc = -1;

    if (s && *s && strlen(s) < size && !strchr(s, '/')) {
        strcpy(tag, s);
        rc = 0;
    }
    Py_XDECREF(t);
    PyErr_Clear();
    return rc;
}

/* The level -1 stands for in this interpreter: sys.flags.optimize. */
static int flags_optimize(void)
{
    PyObject *flags = PySys_GetObject("flags");  /* borrowed */
    PyObject *o = flags ? PyObject_GetAttrString(flags, "optimize") : NULL;
    long v = o ? PyLong_AsLong(o) : -1;

    Py_XDECREF(o);
    PyErr_Clear();
    return v >= 0 && v <= INT32_MAX ? (int)v : -1;
}

/* GIL held.  0, or -1 with errno set and no exception. */
static int key_make(bc_key *k, const char *dir, const char *path, int optimize)
{
    char tag[64];
    long magic;
    int n;

    if (optimize < 0)
        optimize = flags_optimize();
    if (optimize < 0 || cache_tag(tag, sizeof(tag)) < 0) {
        errno = ENOTSUP;
        return -1;
    }
    magic = PyImport_GetMagicNumber();
    if (magic == -1 && PyErr_Occurred()) {
        PyErr_Clear();
        errno = ENOTSUP;
        return -1;
    }
    k->pymagic = (uint32_t)magic;
    k->optimize = optimize;
    n = snprintf(k->file, sizeof(k->file), "%s/%016" PRIx64 ".%s.mpc",
                 dir, fnv1a(path), tag);
    if (n < 0 || (size_t)n >= sizeof(k->file)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    return 0;
}

/* ------------------------------------------------------------ loading */

static int read_all(int fd, char *buf, size_t n)
{
    while (n) {
        ssize_t r = read(fd, buf, n);

        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        buf += r;
        n -= (size_t)r;
    }
    return 0;
}

/* Whether buf[0..size) is the entry for (path, src) under key `k`; the
 * caller checked that size exceeds header, path and source together. */
static int entry_ok(const char *buf, size_t size, const bc_key *k,
                    const char *path, size_t plen, const char *src, size_t n)
{
    const char *body = buf + sizeof(bc_header);
    bc_header h;

    memcpy(&h, buf, sizeof(h));
    if (memcmp(h.magic, BC_MAGIC, 4) != 0 || h.version != BC_VERSION
        || h.pymagic != k->pymagic || h.optimize != k->optimize || h.reserved != 0
        || h.path_len != plen || h.src_len != n
        || h.code_len != size - sizeof(h) - plen - n)
        return 0;
    if (memcmp(body, path, plen) != 0 || memcmp(body + plen, src, n) != 0)
        return 0;
    return entry_sum(&h, body + plen + n) == h.sum;
}

/* Without the GIL: the entry file read whole and checked (malloc()ed), the
 * marshalled code at buf + *off, *len bytes; NULL when there is none.
 * O_NOFOLLOW: a symlink is not our file; O_NONBLOCK: nor is a FIFO, which
 * must not hang the open. */
static char *read_entry(const bc_key *k, const char *path, const char *src,
                        size_t n, size_t *off, size_t *len)
{
    size_t plen = strlen(path);
    uint64_t fixed = sizeof(bc_header) + (uint64_t)plen + n;
    struct stat st;
    char *buf = NULL;
    int fd = open(k->file, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);

    if (fd < 0)
        return NULL;
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_uid != geteuid()
        || (st.st_mode & (S_IWGRP | S_IWOTH))
        || (uint64_t)st.st_size <= fixed || (uint64_t)st.st_size > BC_MAX_FILE)
        goto done;
    if (!(buf = malloc((size_t)st.st_size)))
        goto done;
    if (read_all(fd, buf, (size_t)st.st_size) < 0
        || !entry_ok(buf, (size_t)st.st_size, k, path, plen, src, n)) {
        free(buf);
        buf = NULL;
        goto done;
    }
    *off = (size_t)fixed;
    *len = (size_t)st.st_size - (size_t)fixed;
done:
    close(fd);
    return buf;
}

PyObject *mp_bc_load(const char *dir, const char *path, const char *src, size_t n,
                     int optimize)
{
    bc_key k;
    char *buf;
    size_t off = 0, len = 0;
    PyObject *code;

    if (n > BC_MAX_FILE || key_make(&k, dir, path, optimize) < 0)
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    buf = read_entry(&k, path, src, n, &off, &len);
    Py_END_ALLOW_THREADS
    if (!buf)
        return NULL;
    code = PyMarshal_ReadObjectFromString(buf + off, (Py_ssize_t)len);
    free(buf);
    if (!code)
        PyErr_Clear();
    else if (!PyCode_Check(code))
        Py_CLEAR(code);
    return code;
}

/* ------------------------------------------------------------ storing */

static int write_all(int fd, const void *p, size_t n)
{
    const char *b = p;

    while (n) {
        ssize_t r = write(fd, b, n);

        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        b += r;
        n -= (size_t)r;
    }
    return 0;
}

/* A new temporary file `tmp`, mode 0600, never one planted there nor a
 * symlink followed.  The name is this process's and thread's, and a thread
 * stores one entry at a time, so a file already there is the leftover of
 * a writer that died (with the same pid and thread id): removed. */
static int create_temp(const char *tmp)
{
    int flags = O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC;
    int fd = open(tmp, flags, 0600);

    if (fd < 0 && errno == EEXIST && unlink(tmp) == 0)
        fd = open(tmp, flags, 0600);
    return fd;
}

/* Without the GIL: header, path, source and code to a temporary file,
 * renamed over the entry.  0, or -1 with errno set. */
static int write_entry(const bc_key *k, const bc_header *h, const char *path,
                       const char *src, const char *code)
{
    char tmp[PATH_MAX + 64];
    int fd, err;

    snprintf(tmp, sizeof(tmp), "%s.%ld.%ld.tmp", k->file, (long)getpid(),
             (long)syscall(SYS_gettid));
    if ((fd = create_temp(tmp)) < 0)
        return -1;
    if (write_all(fd, h, sizeof(*h)) < 0 || write_all(fd, path, h->path_len) < 0
        || write_all(fd, src, h->src_len) < 0 || write_all(fd, code, h->code_len) < 0)
        goto fail;
    err = close(fd);
    fd = -1;
    if (err < 0 || rename(tmp, k->file) < 0)
        goto fail;
    return 0;
fail:
    err = errno;
    if (fd >= 0)
        close(fd);
    unlink(tmp);
    errno = err;
    return -1;
}

int mp_bc_store(const char *dir, const char *path, const char *src, size_t n,
                PyObject *code, int optimize)
{
    size_t plen = strlen(path);
    PyObject *data = NULL;
    bc_header h;
    bc_key k;
    int rc = -1, err = EINVAL;

    if (!PyCode_Check(code) || plen > BC_MAX_PATH || n > BC_MAX_FILE)
        goto done;
    if (key_make(&k, dir, path, optimize) < 0) {
        err = errno;
        goto done;
    }
    if (!(data = PyMarshal_WriteObjectToString(code, Py_MARSHAL_VERSION))) {
        PyErr_Clear();
        goto done;
    }
    memset(&h, 0, sizeof(h));
    memcpy(h.magic, BC_MAGIC, 4);
    h.version = BC_VERSION;
    h.pymagic = k.pymagic;
    h.optimize = k.optimize;
    h.path_len = (uint32_t)plen;
    h.src_len = n;
    h.code_len = (uint64_t)PyBytes_GET_SIZE(data);
    if (sizeof(h) + plen + n + h.code_len > BC_MAX_FILE) {
        err = EFBIG;
        goto done;
    }
    h.sum = entry_sum(&h, PyBytes_AS_STRING(data));
    /* `data` is ours and immutable, the caller keeps path and src: all
     * safe to read without the GIL. */
    Py_BEGIN_ALLOW_THREADS
    rc = write_entry(&k, &h, path, src, PyBytes_AS_STRING(data));
    err = errno;
    Py_END_ALLOW_THREADS
done:
    Py_XDECREF(data);
    if (rc < 0)
        errno = err;
    return rc;
}

/* ------------------------------------------------------------ directory */

/* Created by us (mode 0700 whatever the umask), or there already: a
 * directory of ours that nobody else can write to. */
int mp_bc_prepare(const char *dir, char *err, size_t errlen)
{
    char buf[128];
    struct stat st;
    int made = mkdir(dir, 0700) == 0, fd, rc = -1;

    if (!made && errno != EEXIST) {
        snprintf(err, errlen, "cannot create %s: %s", dir,
                 strerror_r(errno, buf, sizeof(buf)));
        return -1;
    }
    if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) < 0) {
        if (errno == ENOTDIR)
            snprintf(err, errlen, "%s is not a directory", dir);
        else
            snprintf(err, errlen, "cannot open %s: %s", dir,
                     strerror_r(errno, buf, sizeof(buf)));
        return -1;
    }
    if ((made && fchmod(fd, 0700) < 0) || fstat(fd, &st) < 0)
        snprintf(err, errlen, "cannot set up %s: %s", dir,
                 strerror_r(errno, buf, sizeof(buf)));
    else if (st.st_uid != geteuid())
        snprintf(err, errlen, "%s is owned by uid %ld, not by this process's (%ld)",
                 dir, (long)st.st_uid, (long)geteuid());
    else if (st.st_mode & (S_IWGRP | S_IWOTH))
        snprintf(err, errlen, "%s is writable by group or others (mode %04o)", dir,
                 (unsigned)(st.st_mode & 07777));
    else
        rc = 0;
    close(fd);
    return rc;
}
