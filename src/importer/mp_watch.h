/* File-change notification for the importer: one inotify instance per
 * process.  Free of httpd and of Python; every function is thread-safe. */
#ifndef MP_WATCH_H
#define MP_WATCH_H

/* Drain pending events; the current epoch, or 0 when notification is off
 * (never started, unavailable, or given up): then use stat(). */
unsigned long mp_watch_poll(void);

/* Watch directory `dir` (normalised, no trailing '/'): 0, or -1 when it
 * cannot be watched (modules there must be checked with stat()). */
int mp_watch_dir(const char *dir);

/* Record events for `path` though its name does not end in ".py" (only
 * those are recorded unasked); after mp_watch_dir() of its directory.
 * 0, or -1 when it cannot be followed (check it with stat()). */
int mp_watch_file(const char *path);

/* The epoch of the last event naming `path`, 0 if none; *writing is set
 * when a writer may still have the file open (modified or created, and not
 * yet closed or renamed into place). */
unsigned long mp_watch_changed(const char *path, int *writing);

/* Forget everything and start again on next use (tests). */
void mp_watch_reset(void);

#endif
