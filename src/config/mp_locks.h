/* mod_python's global locks (3.5's _apache._global_lock): a fixed set of
 * locks, each exclusive between all the threads of all the processes of
 * one httpd.  Made in the parent at start from the main server's
 * PythonOptions and httpd's `Mutex` directive (type "mod_python"), kept
 * across restarts, taken up by each child.  Part of the configuration
 * layer: built from the configuration, using httpd and APR only. */
#ifndef MP_LOCKS_H
#define MP_LOCKS_H

#include "config/mp_config.h"

#define MP_OPT_MUTEX_LOCKS "mod_python.mutex_locks"
#define MP_OPT_MUTEX_DIR   "mod_python.mutex_directory"
#define MP_MUTEX_TYPE      "mod_python"   /* for `Mutex mech[:dir] mod_python` */
#define MP_DEFAULT_LOCKS   8              /* 3.5's default */
#define MP_MAX_LOCKS       256

/* PythonOption `key` `val` (val NULL: unset) as read by the directive: an
 * error message for a malformed lock option, else NULL. */
const char *mp_locks_check_option(cmd_parms *cmd, const char *key, const char *val);

/* pre_config: make the Mutex type known to httpd. */
void mp_locks_register(apr_pool_t *pconf);
/* post_config, in the parent: the locks, made once for the life of the
 * parent (a restart keeps them: old and new children share them).  Not
 * APR_SUCCESS, with the reason logged, if they cannot be made. */
apr_status_t mp_locks_create(server_rec *s);
/* child_init: take the parent's locks up in this child. */
void mp_locks_child_init(apr_pool_t *pchild, server_rec *s);

/* How many locks this process can use: 0 before child_init, or if it
 * failed. */
int mp_locks_count(void);
/* Lock `i` (0 <= i < count).  mp_lock waits: call it without the GIL.
 * mp_trylock gives APR_EBUSY when another holds it; mp_unlock APR_EINVAL
 * when no thread of this process holds it.  Any thread of the process
 * that holds a lock may release it (a request's cleanup may run in
 * another thread than its handler). */
apr_status_t mp_lock(int i);
apr_status_t mp_trylock(int i);
apr_status_t mp_unlock(int i);

#endif
