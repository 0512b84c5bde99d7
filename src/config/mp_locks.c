/* mod_python's global locks (see mp_locks.h).
 *
 * Each lock is two locks: between processes, an APR process mutex made by
 * httpd's Mutex machinery (so `Mutex fcntl:/dir mod_python` and `Mutex ...
 * default` apply); inside a process, a state guarded by a pthread mutex
 * and condition, so that one thread at a time goes for the process mutex
 * and any thread may give the lock back.  APR's global mutex would bind
 * the lock to the thread that took it (a pthread mutex), and mod_python
 * code releases locks from request cleanups, which httpd may run in
 * another thread.  For the same reason the process-shared pthread mutex
 * (robust, owned by a thread) is refused as the mechanism; the default is
 * fcntl, which the kernel releases when a process dies.
 *
 * The set lives in the process pool, found through its user data: the
 * module itself is unloaded and loaded again on a restart, and the parent
 * keeps its locks across restarts (children of the old and the new
 * generation serialise on the same locks).  No cleanup of ours is
 * registered there: its code would be gone after a restart. */
#include "config/mp_locks.h"

#include "http_core.h"
#include "http_main.h"
#include "util_mutex.h"
#include "unixd.h"
#include "apr_proc_mutex.h"

#include <errno.h>
#include <unistd.h>

APLOG_USE_MODULE(python);

#define SET_KEY "mod_python.locks"

enum { FREE, TAKING, HELD };   /* a lock's state in this process */

typedef struct {
    pthread_mutex_t mu;      /* guards state */
    pthread_cond_t cv;       /* signalled when state goes back to FREE */
    int state;
    apr_proc_mutex_t *proc;  /* between processes: held while HELD */
} mp_lock_slot;

typedef struct {
    int n;
    const char *dir;         /* mod_python.mutex_directory, or NULL */
    mp_lock_slot *slots;
} mp_lock_set;

/* The set this process uses: set at post_config in the parent, at
 * child_init in a child. */
static mp_lock_set *current;

/* ------------------------------------------------------------ options */

/* mod_python.mutex_locks: 2 at least, as index 0 is kept for dbm locking
 * and keys hash to the others. */
static int parse_count(const char *val)
{
    char *end;
    apr_int64_t n;

    errno = 0;
    n = apr_strtoi64(val, &end, 10);
    if (errno || end == val || *end || n < 2 || n > MP_MAX_LOCKS)
        return -1;
    return (int)n;
}

static const char *dir_path(apr_pool_t *p, const char *val)
{
    const char *dir = ap_server_root_relative(p, val);

    return dir && ap_is_directory(p, dir) ? dir : NULL;
}

const char *mp_locks_check_option(cmd_parms *cmd, const char *key, const char *val)
{
    int locks = !strcmp(key, MP_OPT_MUTEX_LOCKS);

    if ((!locks && strcmp(key, MP_OPT_MUTEX_DIR)) || !val || !*val)
        return NULL;
    if (locks && parse_count(val) < 0)
        return apr_psprintf(cmd->pool, "PythonOption %s: '%s' is not a number "
                            "from 2 to %d", key, val, MP_MAX_LOCKS);
    if (!locks && !dir_path(cmd->temp_pool, val))
        return apr_psprintf(cmd->pool, "PythonOption %s: '%s' is not a directory",
                            key, val);
    /* Read from the main server only, as in 3.5; say so at start-up (not
     * for each request reading an .htaccess), through no server: a
     * virtual host's log level is not set yet. */
    if ((cmd->path || cmd->server->is_virtual) &&
        ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_RUN_MPM)
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, NULL, MPLOG_LOCKS_OPTION_IGNORED
                     "mod_python: PythonOption %s on line %d of %s has no effect: "
                     "it is read from the main server configuration only",
                     key, cmd->directive->line_num, cmd->directive->filename);
    return NULL;
}

/* ------------------------------------------------------------ the parent */

void mp_locks_register(apr_pool_t *pconf)
{
    ap_mutex_register(pconf, MP_MUTEX_TYPE, NULL, APR_LOCK_FCNTL, 0);
}

/* Lock `i`'s process mutex into `*m`: fcntl files in mutex_directory when
 * the option gives one (3.5's way), else as `Mutex` says. */
static apr_status_t create_proc_mutex(server_rec *s, apr_pool_t *p, const char *dir,
                                      int i, apr_proc_mutex_t **m)
{
    apr_status_t rv;

    if (!dir)
        return ap_proc_mutex_create(m, NULL, MP_MUTEX_TYPE, apr_itoa(p, i), s, p, 0);
    rv = apr_proc_mutex_create(m, apr_psprintf(p, "%s/" MP_MUTEX_TYPE "-%d.%" APR_PID_T_FMT,
                                               dir, i, getpid()), APR_LOCK_FCNTL, p);
    return rv == APR_SUCCESS ? ap_unixd_set_proc_mutex_perms(*m) : rv;
}

/* Lock `i` of the set; not APR_SUCCESS with the reason logged. */
static apr_status_t slot_init(server_rec *s, apr_pool_t *p, const char *dir, int i,
                              mp_lock_slot *l)
{
    apr_status_t rv;

    if ((rv = pthread_mutex_init(&l->mu, NULL)) || (rv = pthread_cond_init(&l->cv, NULL)) ||
        (rv = create_proc_mutex(s, p, dir, i, &l->proc))) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, rv, s, MPLOG_LOCKS_CREATE
                     "mod_python: cannot create lock %d of _global_lock%s%s",
                     i, dir ? " in " MP_OPT_MUTEX_DIR " " : "", dir ? dir : "");
    } else if (!l->proc || !strcmp(apr_proc_mutex_name(l->proc), "pthread")) {
        ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, MPLOG_LOCKS_MECH
                     "mod_python: the Mutex mechanism '%s' cannot serve "
                     "_global_lock, whose locks may be released by another "
                     "thread than took them: set 'Mutex fcntl " MP_MUTEX_TYPE
                     "' (or flock, sysvsem)", l->proc ? apr_proc_mutex_name(l->proc) : "none");
        rv = APR_ENOTIMPL;
    }
    return rv;
}

static mp_lock_set *set_new(server_rec *s, apr_pool_t *p, int n, const char *dir)
{
    mp_lock_set *set = apr_pcalloc(p, sizeof(*set));

    set->n = n;
    set->dir = dir ? apr_pstrdup(p, dir) : NULL;
    set->slots = apr_pcalloc(p, n * sizeof(*set->slots));
    for (int i = 0; i < n; i++)
        if (slot_init(s, p, set->dir, i, &set->slots[i]) != APR_SUCCESS)
            return NULL;   /* httpd does not start: the process ends */
    return set;
}

apr_status_t mp_locks_create(server_rec *s)
{
    apr_pool_t *p = s->process->pool, *pconf = s->process->pconf;
    const apr_table_t *opts = mp_srv_conf(s)->conf->options;
    const char *val = apr_table_get(opts, MP_OPT_MUTEX_LOCKS);
    const char *dir = apr_table_get(opts, MP_OPT_MUTEX_DIR);
    int n = val && *val ? parse_count(val) : MP_DEFAULT_LOCKS;
    mp_lock_set *set = NULL;

    dir = dir && *dir ? dir_path(pconf, dir) : NULL;   /* checked when read */
    apr_pool_userdata_get((void **)&set, SET_KEY, p);
    if (set) {
        if (set->n != n || (set->dir ? !dir || strcmp(set->dir, dir) : dir != NULL))
            ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s, MPLOG_LOCKS_KEPT
                         "mod_python: a restart keeps the %d locks of _global_lock "
                         "as they were made: a new " MP_OPT_MUTEX_LOCKS " or "
                         MP_OPT_MUTEX_DIR " takes effect when httpd is stopped "
                         "and started", set->n);
        current = set;
        return APR_SUCCESS;
    }
    if (!(set = set_new(s, p, n, dir)))
        return APR_EGENERAL;
    /* _set, not _setn: the key is copied into the process pool.  A restart
     * unloads this module and may map it again elsewhere; a key left
     * pointing at the old mapping crashed the next lookup. */
    apr_pool_userdata_set(set, SET_KEY, NULL, p);
    current = set;
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, MPLOG_LOCKS_CREATED
                 "mod_python: %d locks for _global_lock, mechanism %s%s%s", n,
                 apr_proc_mutex_name(set->slots[0].proc),
                 apr_proc_mutex_lockfile(set->slots[0].proc) ? ", first file " : "",
                 apr_proc_mutex_lockfile(set->slots[0].proc) ?
                     apr_proc_mutex_lockfile(set->slots[0].proc) : "");
    return APR_SUCCESS;
}

/* ------------------------------------------------------------ a child */

void mp_locks_child_init(apr_pool_t *pchild, server_rec *s)
{
    mp_lock_set *set = NULL;
    apr_status_t rv;

    apr_pool_userdata_get((void **)&set, SET_KEY, s->process->pool);
    current = NULL;
    for (int i = 0; set && i < set->n; i++) {
        mp_lock_slot *l = &set->slots[i];
        rv = apr_proc_mutex_child_init(&l->proc, apr_proc_mutex_lockfile(l->proc), pchild);
        if (rv != APR_SUCCESS) {
            ap_log_error(APLOG_MARK, APLOG_ERR, rv, s, MPLOG_LOCKS_CHILD
                         "mod_python: lock %d of _global_lock cannot be used in "
                         "this process (%s): _global_lock raises here", i,
                         apr_proc_mutex_name(l->proc));
            return;
        }
    }
    current = set;
}

/* ------------------------------------------------------------ locking */

int mp_locks_count(void)
{
    return current ? current->n : 0;
}

/* Back to FREE from TAKING or HELD, waking one waiter; l->mu held. */
static void set_free(mp_lock_slot *l)
{
    l->state = FREE;
    pthread_cond_signal(&l->cv);
}

apr_status_t mp_lock(int i)
{
    mp_lock_slot *l = &current->slots[i];
    apr_status_t rv;

    pthread_mutex_lock(&l->mu);
    while (l->state != FREE)
        pthread_cond_wait(&l->cv, &l->mu);
    l->state = TAKING;
    pthread_mutex_unlock(&l->mu);
    /* The only thread of this process going for it: wait outside mu. */
    rv = apr_proc_mutex_lock(l->proc);
    pthread_mutex_lock(&l->mu);
    if (rv == APR_SUCCESS)
        l->state = HELD;
    else
        set_free(l);
    pthread_mutex_unlock(&l->mu);
    return rv;
}

apr_status_t mp_trylock(int i)
{
    mp_lock_slot *l = &current->slots[i];
    apr_status_t rv = APR_EBUSY;

    pthread_mutex_lock(&l->mu);
    if (l->state == FREE) {
        /* does not wait: under mu */
        rv = apr_proc_mutex_trylock(l->proc);
        if (rv == APR_SUCCESS)
            l->state = HELD;
        else if (APR_STATUS_IS_EBUSY(rv))
            rv = APR_EBUSY;
    }
    pthread_mutex_unlock(&l->mu);
    return rv;
}

apr_status_t mp_unlock(int i)
{
    mp_lock_slot *l = &current->slots[i];
    apr_status_t rv = APR_EINVAL;

    pthread_mutex_lock(&l->mu);
    if (l->state == HELD && (rv = apr_proc_mutex_unlock(l->proc)) == APR_SUCCESS)
        set_free(l);
    pthread_mutex_unlock(&l->mu);
    return rv;
}
