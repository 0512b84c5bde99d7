/* The importer's on-disk bytecode cache (PythonOption
 * mod_python.importer.bytecode_dir): code objects marshalled to files in a
 * directory shared by httpd's children and kept across restarts, so that a
 * new child unmarshals instead of compiling.  An entry is valid only for
 * the exact source bytes, module path, Python bytecode magic and
 * optimization level it was compiled from; anything else (a missing,
 * short, corrupt or foreign file) is a miss, never an error.  Free of
 * httpd.  One file per module path: DIR/<FNV-1a of path>.<cache tag>.mpc. */
#ifndef MP_BYTECODE_H
#define MP_BYTECODE_H

#include <Python.h>

#include <stddef.h>

/* Check/create DIR for use as a bytecode cache: created mode 0700 if missing (parents must exist);
 * refused (-1, reason in err) if it is not a directory, not owned by the effective uid, or writable
 * by group/others (someone else could plant code).  0 when usable.  No GIL needed; no Python calls. */
int mp_bc_prepare(const char *dir, char *err, size_t errlen);

/* The code object cached in DIR for the module file `path` whose source is exactly src[0..n), compiled
 * by this Python (importlib magic number) at optimization level `optimize`: a new reference, or NULL
 * WITHOUT an exception set when there is no usable entry (missing, truncated, corrupt, other magic or
 * level, other path, other source, not a regular file, not owned by us, group/world-writable, ...).
 * GIL held; releases it around file I/O.
 * `optimize` -1 means this interpreter's level (sys.flags.optimize), as for
 * Py_CompileStringExFlags; entries are keyed by the level it stands for. */
PyObject *mp_bc_load(const char *dir, const char *path, const char *src, size_t n, int optimize);

/* Store `code` for (path, src, optimize) in DIR, atomically (temp file O_CREAT|O_EXCL mode 0600 in DIR,
 * write, then rename over the final name; never a partly written final file; a stale temp file from a
 * crashed writer does not block later stores).  0, or -1 (errno set) WITHOUT a Python exception (a cache
 * that cannot be written is not an error for the import).  GIL held; releases it around file I/O. */
int mp_bc_store(const char *dir, const char *path, const char *src, size_t n, PyObject *code, int optimize);

#endif
