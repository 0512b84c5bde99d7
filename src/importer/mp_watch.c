/* File-change notification for the importer (Linux inotify).
 *
 * One inotify instance per process, shared by every interpreter, watching
 * the directories modules were found in.  mp_watch_poll() drains pending
 * events without blocking: the kernel queues an event before the writer's
 * write()/rename() returns, so a change saved before a poll is seen by it.
 * Each event on a "*.py" name records, for that path, the epoch (a counter
 * bumped by every poll that found events) in a small hash map; the
 * importer compares it with the epoch a module was loaded at.
 *
 * A file written in place (open, write in pieces, close) must not be
 * loaded half-written: IN_MODIFY and IN_CREATE mark the path as being
 * written, IN_CLOSE_WRITE and IN_MOVED_TO (a rename into place) as complete.
 * inotify cannot say whether a writer still has the file open, so a mark
 * with no event for WRITE_TIMEOUT seconds counts as complete (a hard link
 * made with link() creates a file without any close).
 *
 * Anything we cannot follow exactly (no inotify, no watch left, a queue
 * overflow, a watched directory removed or moved) turns the watcher off
 * for good in this process, and the importer falls back to stat(). */
#include "importer/mp_watch.h"
#include "base/mp_names.h"

#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#define WRITE_TIMEOUT 10.0

#define WATCH_MASK (IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_MOVED_TO | \
                    IN_MOVED_FROM | IN_CREATE | IN_DELETE | IN_DELETE_SELF | \
                    IN_MOVE_SELF)

typedef struct {
    int wd;
    char *dir;
} wdir;

typedef struct {
    char *path;              /* NULL = free slot */
    unsigned long epoch;
    int writing;             /* modified or created since its last close */
    double written;          /* CLOCK_MONOTONIC time of the last write event */
} changed;

static struct {
    pthread_mutex_t mu;
    int state;               /* 0 not started, 1 on, -1 off for good */
    int fd;
    unsigned long epoch;
    wdir *dirs;
    size_t ndirs, capdirs;
    changed *map;            /* open addressing, capacity a power of two */
    size_t nmap, capmap;
} W = { PTHREAD_MUTEX_INITIALIZER, 0, -1, 1, NULL, 0, 0, NULL, 0, 0 };

static unsigned long hash(const char *s)
{
    unsigned long h = 5381;

    while (*s)
        h = h * 33 + (unsigned char)*s++;
    return h;
}

static void turn_off(void)
{
    if (W.fd >= 0)
        close(W.fd);
    W.fd = -1;
    W.state = -1;
}

static int start(void)
{
    if (W.state == 0) {
        W.fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
        W.state = W.fd >= 0 ? 1 : -1;
    }
    return W.state > 0;
}

static changed *slot(const char *path)
{
    size_t i = hash(path) & (W.capmap - 1);

    while (W.map[i].path && strcmp(W.map[i].path, path) != 0)
        i = (i + 1) & (W.capmap - 1);
    return &W.map[i];
}

static int map_grow(void)
{
    changed *old = W.map;
    size_t oldcap = W.capmap;

    W.capmap = oldcap ? oldcap * 2 : 256;
    if (!(W.map = calloc(W.capmap, sizeof(*W.map)))) {
        W.map = old;
        W.capmap = oldcap;
        return -1;
    }
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].path)
            *slot(old[i].path) = old[i];
    free(old);
    return 0;
}

static double monotonic(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* The slot of `path`, made when missing and `make` (its path copied then:
 * a lookup allocates nothing); NULL when it is missing, or cannot be made
 * (then the watcher is off).  Lock held. */
static changed *slot_of(const char *path, int make)
{
    changed *c;

    if (make && (W.nmap + 1) * 2 > W.capmap && map_grow() < 0) {
        turn_off();
        return NULL;
    }
    if (!W.capmap)
        return NULL;
    c = slot(path);
    if (c->path || !make)
        return c->path ? c : NULL;
    if (!(c->path = strdup(path))) {
        turn_off();
        return NULL;
    }
    W.nmap++;
    return c;
}

/* Every "*.py" is recorded (a module may be looked for before it exists);
 * another name only when mp_watch_file() asked for it: a directory's
 * other files (logs, uploads) would fill the map. */
static void note_change(const char *dir, const char *name, uint32_t mask)
{
    int py = mp_is_py_name(name);
    char path[PATH_MAX];
    changed *c;

    if (snprintf(path, sizeof(path), "%s/%s", dir, name) >= (int)sizeof(path)) {
        if (py)
            turn_off();   /* a change we could not record: stat() from now */
        return;
    }
    if (!(c = slot_of(path, py)))
        return;
    c->epoch = W.epoch;
    if (mask & (IN_MODIFY | IN_CREATE)) {
        c->writing = 1;
        c->written = monotonic();
    } else if (mask & (IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE)) {
        c->writing = 0;
    }
}

static const char *dir_of(int wd)
{
    for (size_t i = 0; i < W.ndirs; i++)
        if (W.dirs[i].wd == wd)
            return W.dirs[i].dir;
    return NULL;
}

/* Read every queued event; 1 if there were any. */
static int drain(void)
{
    char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    ssize_t len;
    int any = 0;

    while (W.state > 0 && (len = read(W.fd, buf, sizeof(buf))) > 0) {
        for (char *p = buf; p < buf + len;) {
            const struct inotify_event *ev = (const struct inotify_event *)p;
            const char *dir = dir_of(ev->wd);
            p += sizeof(*ev) + ev->len;
            if (!any)
                W.epoch++, any = 1;
            if (ev->mask & (IN_Q_OVERFLOW | IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF) || !dir)
                turn_off();
            else if (ev->len)
                note_change(dir, ev->name, ev->mask);
        }
    }
    if (W.state > 0 && len < 0 && errno != EAGAIN && errno != EINTR)
        turn_off();
    return any;
}

unsigned long mp_watch_poll(void)
{
    unsigned long e = 0;

    pthread_mutex_lock(&W.mu);
    if (W.state > 0) {
        drain();
        if (W.state > 0)
            e = W.epoch;
    }
    pthread_mutex_unlock(&W.mu);
    return e;
}

int mp_watch_dir(const char *dir)
{
    int wd, rc = -1;
    char *copy;

    pthread_mutex_lock(&W.mu);
    if (!start())
        goto done;
    for (size_t i = 0; i < W.ndirs; i++)
        if (!strcmp(W.dirs[i].dir, dir)) {
            rc = 0;
            goto done;
        }
    if (W.ndirs == W.capdirs) {
        size_t cap = W.capdirs ? W.capdirs * 2 : 16;
        wdir *d = realloc(W.dirs, cap * sizeof(*d));
        if (!d)
            goto done;
        W.dirs = d;
        W.capdirs = cap;
    }
    if ((wd = inotify_add_watch(W.fd, dir, WATCH_MASK | IN_ONLYDIR)) < 0 ||
        !(copy = strdup(dir)))
        goto done;  /* ENOSPC, a file system without notification...: stat */
    W.dirs[W.ndirs].wd = wd;
    W.dirs[W.ndirs].dir = copy;
    W.ndirs++;
    rc = 0;
done:
    pthread_mutex_unlock(&W.mu);
    return rc;
}

unsigned long mp_watch_changed(const char *path, int *writing)
{
    unsigned long e = 0;

    *writing = 0;
    pthread_mutex_lock(&W.mu);
    if (W.state > 0 && W.capmap) {
        changed *c = slot(path);
        if (c->path) {
            e = c->epoch;
            *writing = c->writing && monotonic() - c->written < WRITE_TIMEOUT;
        }
    }
    pthread_mutex_unlock(&W.mu);
    return e;
}

int mp_watch_file(const char *path)
{
    int rc = -1;

    pthread_mutex_lock(&W.mu);
    if (W.state > 0 && slot_of(path, 1))
        rc = 0;
    pthread_mutex_unlock(&W.mu);
    return rc;
}

void mp_watch_reset(void)
{
    pthread_mutex_lock(&W.mu);
    if (W.fd >= 0)
        close(W.fd);
    for (size_t i = 0; i < W.ndirs; i++)
        free(W.dirs[i].dir);
    for (size_t i = 0; i < W.capmap; i++)
        free(W.map[i].path);
    free(W.dirs);
    free(W.map);
    W.fd = -1;
    W.state = 0;
    W.dirs = NULL;
    W.map = NULL;
    W.ndirs = W.capdirs = W.nmap = W.capmap = 0;
    pthread_mutex_unlock(&W.mu);
}
