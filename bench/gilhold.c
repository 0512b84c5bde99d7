/* GIL hold time, seen from the outside (bench/workers.py): an LD_PRELOAD
 * library that interposes the calls by which an embedding module takes
 * and gives back the GIL, and adds up the wall-clock time in between.
 *
 * A hold starts when PyEval_RestoreThread or PyEval_AcquireThread returns,
 * or PyGILState_Ensure returns after taking the GIL (PyGILState_UNLOCKED);
 * it ends when PyEval_SaveThread, PyEval_ReleaseThread or the matching
 * PyGILState_Release is entered.  Only calls from other objects than
 * libpython reach these (libpython's own calls are bound inside it), so
 * a release inside libpython (blocking I/O in a library call, a forced
 * switch) still counts as held: an upper bound, exact for a handler that
 * does not block inside Python.
 *
 * Wall-clock time: a thread descheduled while it holds the GIL still
 * holds it (no other thread runs Python meanwhile).
 *
 * The totals go to a file named by $GILHOLD_FILE, mapped shared when the
 * library loads (in httpd's parent, as root, before it forks): every
 * process and thread adds to the same counters, atomically. */
#define _GNU_SOURCE
#include <Python.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

struct gilhold_totals {
    uint64_t held_ns;   /* sum of the holds, wall clock */
    uint64_t holds;     /* how many */
};

static struct gilhold_totals *totals;
static __thread uint64_t since;     /* when this thread took it; 0: not held */

/* CLOCK_MONOTONIC: read in user space (vDSO), tens of nanoseconds; a
 * thread CPU clock would be a system call, microseconds here, inside the
 * interval it measures. */
static uint64_t now_ns(void)
{
    struct timespec t;

    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

__attribute__((constructor)) static void gilhold_init(void)
{
    const char *path = getenv("GILHOLD_FILE");
    int fd;
    void *m;

    if (!path || (fd = open(path, O_RDWR)) < 0)
        return;
    m = mmap(NULL, sizeof *totals, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (m != MAP_FAILED)
        totals = m;
}

/* The real function: libpython is loaded later than this library (by
 * httpd's LoadModule), so it is looked up at the first call. */
static void *real(const char *name)
{
    void *f = dlsym(RTLD_NEXT, name);
    void *lib;

    if (!f && (lib = dlopen(LIBPYTHON, RTLD_NOW | RTLD_NOLOAD)))
        f = dlsym(lib, name);
    if (!f) {
        fprintf(stderr, "gilhold: no %s\n", name);
        abort();
    }
    return f;
}

#define REAL(name) \
    static __typeof__(&name) real_fn; \
    if (!real_fn) \
        real_fn = (__typeof__(&name))real(#name)

static void taken(void)
{
    since = now_ns();
}

static void given(void)
{
    if (since && totals) {
        __atomic_fetch_add(&totals->held_ns, now_ns() - since, __ATOMIC_RELAXED);
        __atomic_fetch_add(&totals->holds, 1, __ATOMIC_RELAXED);
    }
    since = 0;
}

void PyEval_RestoreThread(PyThreadState *ts)
{
    REAL(PyEval_RestoreThread);
    real_fn(ts);
    taken();
}

PyThreadState *PyEval_SaveThread(void)
{
    REAL(PyEval_SaveThread);
    given();
    return real_fn();
}

void PyEval_AcquireThread(PyThreadState *ts)
{
    REAL(PyEval_AcquireThread);
    real_fn(ts);
    taken();
}

void PyEval_ReleaseThread(PyThreadState *ts)
{
    REAL(PyEval_ReleaseThread);
    given();
    real_fn(ts);
}

PyGILState_STATE PyGILState_Ensure(void)
{
    REAL(PyGILState_Ensure);
    PyGILState_STATE s = real_fn();

    if (s == PyGILState_UNLOCKED)
        taken();
    return s;
}

void PyGILState_Release(PyGILState_STATE s)
{
    REAL(PyGILState_Release);
    if (s == PyGILState_UNLOCKED)
        given();
    real_fn(s);
}
