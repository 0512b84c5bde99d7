/* The configuration layer: the directives, what they store, and the
 * phases they name.  Uses the base layer only.
 *
 * The module record, python_module, is defined with httpd's hooks in
 * httpd/mod_python.c; every layer names it only as httpd's index into its
 * configuration vectors and log module ids, which is data, not a call. */
#ifndef MP_CONFIG_H
#define MP_CONFIG_H

#include "base/mp_base.h"

#include "apr_hash.h"

extern module AP_MODULE_DECLARE_DATA python_module;

/* ------------------------------------------------------------ phases */

typedef enum {
    MP_POST_READ_REQUEST, MP_TRANS, MP_HEADER_PARSER, MP_INIT, MP_ACCESS,
    MP_AUTHEN, MP_AUTHZ, MP_TYPE, MP_FIXUP, MP_HANDLER, MP_LOG, MP_CLEANUP,
    MP_NPHASES
} mp_phase;

enum { MP_GO_ON_OK = 1, MP_GO_ON_DECLINED = 2 };

typedef struct {
    const char *directive;   /* "PythonAccessHandler" */
    const char *callable;    /* default object: "accesshandler" */
    int server_only;         /* RSRC_CONF, no "| .ext" */
    int go_on;               /* MP_GO_ON_*: results after which the phase's
                                next stacked handler runs */
} mp_phase_info;

extern const mp_phase_info mp_phases[MP_NPHASES];

/* ------------------------------------------------------------ config */

typedef struct {
    const char *spec;        /* as written: "mod::obj" */
    const char *module;      /* "mod" */
    const char *object;      /* "obj", or the phase's default */
    const char *directory;   /* handler directory with trailing '/', or NULL */
    apr_array_header_t *exts;/* ".ext" filters (const char *), or NULL */
    const char *location;    /* the <Location> path it was configured in,
                                or NULL (req.hlist.directory, as 3.5) */
    const char *base_uri;    /* that path when literal, without a trailing
                                '/', or NULL (build_wsgi_env()'s base) */
    unsigned id;             /* unique in the process for configured
                                handlers (their Python names are cached by
                                it); 0 for req.add_handler()'s */
    int silent;              /* PythonHandlerModule: a module without the
                                phase's object is skipped, not an error */
} mp_handler;

typedef struct {
    const char *interp;      /* PythonImport INTERPRETER */
    const char *module;
    const char *function;    /* or NULL */
    const char *where;       /* "file:line" for messages */
} mp_import;

typedef struct {
    apr_array_header_t *handlers[MP_NPHASES]; /* mp_handler; NULL = unset */
    unsigned phases;         /* bit (1 << phase) set: handlers[phase] is */
    apr_table_t *directives; /* req.get_config() */
    apr_table_t *options;    /* req.get_options() */
    int debug;               /* -1 = unset in all of these */
    int autoreload;
    int per_directory;
    int per_directive;
    int enable_pdb;          /* PythonEnablePdb (acts with -DONE_PROCESS) */
    const char *interpreter;
    const char *python_path;
    const char *importer_path; /* options' MP_OPT_IMPORTER_PATH, looked up
                                  when configured, not at every import */
    apr_hash_t *filters[2];  /* PythonOutputFilter, PythonInputFilter (by
                                MP_FILTER_OUT/IN): httpd's lower-cased
                                filter name -> mp_handler *; NULL = none */
} mp_dir_config;

#define MP_OPT_IMPORTER_PATH "mod_python.importer.path"
#define MP_OPT_IMPORTER_LOG "mod_python.importer.log"
#define MP_OPT_NOTIFY "mod_python.importer.notify"
#define MP_OPT_ON_RELOAD_ERROR "mod_python.importer.on_reload_error"
#define MP_OPT_BYTECODE "mod_python.importer.bytecode"
#define MP_OPT_BYTECODE_DIR "mod_python.importer.bytecode_dir"

typedef struct {
    mp_dir_config *conf;         /* server-level values (get_config()) */
    apr_array_header_t *imports; /* mp_import: this server's PythonImport lines */
    apr_array_header_t *handler_dirs; /* const char *: <Directory> of its
                                         Python*Handler lines ("/d/") */
    const char *python_home;
    int interp_limit;            /* PythonInterpLimit; 0 = unset */
    int optimize;                /* PythonOptimize: -1 unset, 0 off, 1 on */
    int gil;                     /* PythonInterpreterGIL: mp_gil_mode, -1 unset */
    mp_handler *conn_handler;    /* PythonConnectionHandler, or NULL */
} mp_server_config;

#define MP_DEFAULT_INTERP_LIMIT 64

/* Read at every phase of every request: inline. */
static inline mp_dir_config *mp_dir_conf(const request_rec *r)
{
    return ap_get_module_config(r->per_dir_config, &python_module);
}
mp_server_config *mp_srv_conf(const server_rec *s);
/* PythonInterpLimit: how many interpreters named after request paths a
 * process may have. */
int mp_interp_limit(const server_rec *s);
/* PythonInterpreterGIL of virtual host `s` (or of the main server). */
mp_gil_mode mp_interp_gil(const server_rec *s);
extern const command_rec mp_directives[];
void *mp_create_dir_config(apr_pool_t *p, char *dir);
void *mp_merge_dir_config(apr_pool_t *p, void *base, void *add);
void *mp_create_srv_config(apr_pool_t *p, server_rec *s);
void *mp_merge_srv_config(apr_pool_t *p, void *base, void *add);

/* A configured handler `spec` ("module[::object]", `deflt` the object
 * when none is given) of the directive being read: with its directory
 * (or <Location>) and a new id.  NULL, or what is wrong with the spec;
 * the caller's message names the directive.  For directives of other
 * files (filters, connection handlers). */
const char *mp_handler_init(cmd_parms *cmd, mp_handler *h, const char *spec,
                            const char *deflt);

/* ------------------------------------------------------------ filters */

enum { MP_FILTER_OUT, MP_FILTER_IN };

/* The httpd filter of req.add_input_filter()/add_output_filter() for the
 * filters a request registers itself (3.5's name); not a directive's. */
#define MP_FILTER_GENERIC "MOD_PYTHON"

/* httpd's functions for Python filters, given by the httpd layer when
 * httpd registers the module's hooks (before any directive is read):
 * PythonInputFilter / PythonOutputFilter register their names with them. */
void mp_config_filter_funcs(ap_in_filter_func in, ap_out_filter_func out);
/* The handler of filter `name` (httpd's lower-cased name) in force in `c`,
 * or NULL. */
const mp_handler *mp_filter_handler(const mp_dir_config *c, int input, const char *name);

/* Handler specs "module[::object]": split into module and object. */
int mp_parse_handler_spec(apr_pool_t *p, const char *spec, const char *deflt,
                          const char **module, const char **object);

#endif
