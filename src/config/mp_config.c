/* Directives and configuration: create, merge, and the Python* command
 * table.  Values are checked here, so a malformed directive fails
 * `apachectl -t` with httpd's "Syntax error on line N" and our message
 * naming the directive. */
#include "config/mp_config.h"
#include "config/mp_locks.h"
#include "base/mp_names.h"

#include "apr_fnmatch.h"
#include "http_core.h"
#include "apr_lib.h"

#include <errno.h>
#include <stddef.h>

/* Stacked handlers of a phase go on after these results (the next one
 * runs); any other result ends the phase. */
#define GO_ON_BOTH (MP_GO_ON_OK | MP_GO_ON_DECLINED)

const mp_phase_info mp_phases[MP_NPHASES] = {
    [MP_POST_READ_REQUEST] = {"PythonPostReadRequestHandler", "postreadrequesthandler", 1,
                              GO_ON_BOTH},
    [MP_TRANS] = {"PythonTransHandler", "transhandler", 1, MP_GO_ON_DECLINED},
    [MP_HEADER_PARSER] = {"PythonHeaderParserHandler", "headerparserhandler", 0, GO_ON_BOTH},
    [MP_INIT] = {"PythonInitHandler", "inithandler", 0, GO_ON_BOTH},
    [MP_ACCESS] = {"PythonAccessHandler", "accesshandler", 0, GO_ON_BOTH},
    [MP_AUTHEN] = {"PythonAuthenHandler", "authenhandler", 0, MP_GO_ON_DECLINED},
    [MP_AUTHZ] = {"PythonAuthzHandler", "authzhandler", 0, MP_GO_ON_DECLINED},
    [MP_TYPE] = {"PythonTypeHandler", "typehandler", 0, MP_GO_ON_DECLINED},
    [MP_FIXUP] = {"PythonFixupHandler", "fixuphandler", 0, GO_ON_BOTH},
    [MP_HANDLER] = {"PythonHandler", "handler", 0, MP_GO_ON_OK},
    [MP_LOG] = {"PythonLogHandler", "loghandler", 0, GO_ON_BOTH},
    [MP_CLEANUP] = {"PythonCleanupHandler", "cleanuphandler", 0, MP_GO_ON_OK},
};

mp_server_config *mp_srv_conf(const server_rec *s)
{
    return ap_get_module_config(s->module_config, &python_module);
}

/* ------------------------------------------------------ create and merge */

void *mp_create_dir_config(apr_pool_t *p, char *dir)
{
    mp_dir_config *c = apr_pcalloc(p, sizeof(*c));

    c->directives = apr_table_make(p, 4);
    c->options = apr_table_make(p, 4);
    c->debug = c->autoreload = c->per_directory = c->per_directive = -1;
    c->enable_pdb = -1;
    (void)dir;
    return c;
}

/* Merges run per request (httpd's directory walk): share a table when one
 * side is empty; config tables are never written after start-up. */
static apr_table_t *table_merge(apr_pool_t *p, apr_table_t *base, apr_table_t *add)
{
    const apr_array_header_t *arr = apr_table_elts(add);
    const apr_table_entry_t *e = (const apr_table_entry_t *)arr->elts;
    apr_table_t *t;

    if (apr_is_empty_table(add))
        return base;
    if (apr_is_empty_table(base))
        return add;
    t = apr_table_copy(p, base);
    for (int i = 0; i < arr->nelts; i++)
        apr_table_set(t, e[i].key, e[i].val);  /* the child wins */
    return t;
}

/* Filters by name: the child's handler for a name replaces the parent's
 * (mod_python's rule); the other names stay. */
static apr_hash_t *filters_merge(apr_pool_t *p, apr_hash_t *base, apr_hash_t *add)
{
    if (!add)
        return base;
    if (!base)
        return add;
    return apr_hash_overlay(p, add, base);
}

/* A section without any of mod_python's directives.  Most sections of a
 * site are, and merging runs on every request: the other side is then the
 * merge, as it is, with nothing allocated. */
static int dir_config_empty(const mp_dir_config *c)
{
    return !c->phases && apr_is_empty_table(c->directives) && apr_is_empty_table(c->options) &&
           c->debug == -1 && c->autoreload == -1 && c->per_directory == -1 &&
           c->per_directive == -1 && c->enable_pdb == -1 && !c->interpreter &&
           !c->python_path && !c->filters[0] && !c->filters[1];
}

#define MERGE_INT(f) c->f = add->f != -1 ? add->f : base->f
#define MERGE_PTR(f) c->f = add->f ? add->f : base->f

void *mp_merge_dir_config(apr_pool_t *p, void *basev, void *addv)
{
    mp_dir_config *base = basev, *add = addv, *c;

    if (dir_config_empty(add))
        return base;
    if (dir_config_empty(base))
        return add;
    c = apr_pcalloc(p, sizeof(*c));

    /* A phase's list from the child replaces the parent's (mod_python's
     * rule): lists are not concatenated across sections. */
    for (int i = 0; i < MP_NPHASES; i++)
        MERGE_PTR(handlers[i]);
    c->phases = base->phases | add->phases;
    c->directives = table_merge(p, base->directives, add->directives);
    c->options = table_merge(p, base->options, add->options);
    c->importer_path = c->options == add->options ? add->importer_path
                     : c->options == base->options ? base->importer_path
                     : apr_table_get(c->options, MP_OPT_IMPORTER_PATH);
    MERGE_INT(debug);
    MERGE_INT(autoreload);
    MERGE_INT(per_directory);
    MERGE_INT(per_directive);
    MERGE_INT(enable_pdb);
    MERGE_PTR(interpreter);
    MERGE_PTR(python_path);
    for (int i = 0; i < 2; i++)
        c->filters[i] = filters_merge(p, base->filters[i], add->filters[i]);
    return c;
}

void *mp_create_srv_config(apr_pool_t *p, server_rec *s)
{
    mp_server_config *c = apr_pcalloc(p, sizeof(*c));

    c->conf = mp_create_dir_config(p, NULL);
    c->imports = apr_array_make(p, 2, sizeof(mp_import));
    c->handler_dirs = apr_array_make(p, 4, sizeof(const char *));
    c->optimize = -1;
    c->gil = -1;
    (void)s;
    return c;
}

void *mp_merge_srv_config(apr_pool_t *p, void *basev, void *addv)
{
    mp_server_config *base = basev, *add = addv, *c = apr_pcalloc(p, sizeof(*c));

    c->conf = mp_merge_dir_config(p, base->conf, add->conf);
    c->imports = add->imports;  /* each server runs its own, in order */
    c->handler_dirs = add->handler_dirs;
    c->python_home = base->python_home;
    c->interp_limit = base->interp_limit;  /* main server only */
    c->optimize = base->optimize;          /* main server only */
    c->gil = add->gil >= 0 ? add->gil : base->gil;
    /* a virtual host without its own runs the main server's */
    c->conn_handler = add->conn_handler ? add->conn_handler : base->conn_handler;
    return c;
}

/* ------------------------------------------------------ handler specs */

int mp_parse_handler_spec(apr_pool_t *p, const char *spec, const char *deflt,
                          const char **module, const char **object)
{
    char *mod = apr_palloc(p, strlen(spec) + 1);

    if (mp_split_handler_spec(spec, deflt, mod, strlen(spec) + 1, object) < 0)
        return -1;
    *module = mod;
    return 0;
}

/* ------------------------------------------------------ directive helpers */

static int is_section(const ap_directive_t *d, const char *name)
{
    return d && !strcasecmp(d->directive, name);
}

static int is_wrapper(const ap_directive_t *d)
{
    static const char *const names[] = {
        "<Files", "<FilesMatch", "<Limit", "<LimitExcept", "<If", "<ElseIf",
        "<Else", "<IfModule", "<IfDefine", "<IfVersion", "<IfFile", NULL
    };

    for (int i = 0; names[i]; i++)
        if (is_section(d, names[i]))
            return 1;
    return 0;
}

/* "/d>" or "\"/d\">" of a <Directory> section, as a canonical directory
 * with a trailing '/'; NULL for regex and wildcard sections. */
static const char *section_dir(cmd_parms *cmd, const ap_directive_t *d)
{
    const char *args = d->args;
    char *dir, *end, *canon;

    dir = ap_getword_conf(cmd->temp_pool, &args);
    if ((end = strrchr(dir, '>')))
        *end = '\0';
    if (!*dir || dir[0] == '~' || apr_fnmatch_test(dir))
        return NULL;
    if (apr_filepath_merge(&canon, NULL, dir, APR_FILEPATH_TRUENAME, cmd->pool))
        return NULL;
    return canon[strlen(canon) - 1] == '/' ? canon : apr_pstrcat(cmd->pool, canon, "/", NULL);
}

/* The directory a handler directive belongs to: `<Directory /d>` (and any
 * <Files> or <If> inside it) gives "/d/"; .htaccess its directory; server
 * level, <Location> and regex or wildcard sections give none. */
static const char *handler_directory(cmd_parms *cmd)
{
    const ap_directive_t *d = cmd->directive ? cmd->directive->parent : NULL;
    const char *file;
    int wrapped = 0;

    for (; d && is_wrapper(d); d = d->parent)
        wrapped = 1;
    if (d)
        return is_section(d, "<Directory") ? section_dir(cmd, d) : NULL;
    if (!cmd->path)
        return NULL;          /* server or virtual host level */
    if (!wrapped)
        return cmd->path;     /* .htaccess: httpd gives its directory */
    /* <Files> inside .htaccess: cmd->path is the pattern, use the file's. */
    file = cmd->directive->filename;
    if (file && strrchr(file, '/') && strrchr(file, '/')[1] == '.')
        return apr_pstrndup(cmd->pool, file, strrchr(file, '/') - file + 1);
    return NULL;
}

/* Directives outside any section apply to the server config too, so that
 * code outside requests (PythonImport, module scope) sees them. */
static mp_dir_config *server_side(cmd_parms *cmd)
{
    return cmd->path ? NULL : mp_srv_conf(cmd->server)->conf;
}

/* The <Location> a directive is in (any wrappers skipped), or NULL. */
static const char *handler_location(cmd_parms *cmd)
{
    const ap_directive_t *d = cmd->directive ? cmd->directive->parent : NULL;
    const char *args, *loc;

    for (; d && is_wrapper(d); d = d->parent)
        ;
    if (!d || (!is_section(d, "<Location") && !is_section(d, "<LocationMatch")))
        return NULL;
    args = d->args;
    loc = ap_getword_conf(cmd->pool, &args);
    return apr_pstrndup(cmd->pool, loc, strcspn(loc, ">"));
}

/* The base URI of the WSGI applications of a handler in `<Location /x>`
 * (`location`, any wrappers skipped): "/x" without a trailing '/', "" for
 * "/"; NULL elsewhere, and for regex and wildcard locations.
 * req.build_wsgi_env() splits the URI there, as 3.5 did. */
static const char *handler_base_uri(cmd_parms *cmd, const char *location)
{
    const ap_directive_t *d = cmd->directive ? cmd->directive->parent : NULL;
    size_t n;

    for (; d && is_wrapper(d); d = d->parent)
        ;
    if (!location || !is_section(d, "<Location") || location[0] == '~' ||
        apr_fnmatch_test(location))
        return NULL;
    for (n = strlen(location); n && location[n - 1] == '/'; n--)
        ;
    return apr_pstrndup(cmd->pool, location, n);
}

/* Configuration is read in the parent, by one thread: ids only grow, so a
 * handler of an earlier generation never shares one with a newer. */
static unsigned last_handler_id;

const char *mp_handler_init(cmd_parms *cmd, mp_handler *h, const char *spec,
                            const char *deflt)
{
    memset(h, 0, sizeof(*h));
    h->spec = spec;
    h->directory = handler_directory(cmd);
    h->location = handler_location(cmd);
    h->base_uri = handler_base_uri(cmd, h->location);
    h->id = ++last_handler_id;
    /* the configuration's, not .htaccess's (read per request, in children) */
    if (h->directory && ap_state_query(AP_SQ_MAIN_STATE) != AP_SQ_MS_RUN_MPM)
        APR_ARRAY_PUSH(mp_srv_conf(cmd->server)->handler_dirs, const char *) =
            h->directory;
    if (mp_parse_handler_spec(cmd->pool, spec, deflt, &h->module, &h->object) < 0)
        return apr_psprintf(cmd->pool, "invalid handler '%s' (expected "
                            "module[::object])", spec);
    return NULL;
}

/* "h1 h2 | .ext1 .ext2": the extensions after the bar, or NULL if none;
 * *args is cut before the bar.  *err says what is wrong. */
static apr_array_header_t *handler_exts(cmd_parms *cmd, const mp_phase_info *info,
                                        const char **args, const char **err)
{
    const char *bar = ap_strchr_c(*args, '|'), *rest, *w;
    apr_array_header_t *exts;

    *err = NULL;
    if (!bar)
        return NULL;
    if (info->server_only) {
        *err = apr_pstrcat(cmd->pool, info->directive,
                           ": the '| .ext' form is not allowed here", NULL);
        return NULL;
    }
    rest = bar + 1;
    exts = apr_array_make(cmd->pool, 2, sizeof(const char *));
    while (*(w = ap_getword_conf(cmd->pool, &rest))) {
        if (w[0] != '.' || !w[1]) {
            *err = apr_psprintf(cmd->pool, "%s: '%s' is not an extension "
                                "(write '.ext')", info->directive, w);
            return NULL;
        }
        APR_ARRAY_PUSH(exts, const char *) = w;
    }
    if (!exts->nelts)
        *err = apr_pstrcat(cmd->pool, info->directive, ": no extension after '|'", NULL);
    *args = apr_pstrmemdup(cmd->pool, *args, bar - *args);
    return exts;
}

/* Append the handlers in `args` to `phase` of `conf`. */
static const char *add_handlers(cmd_parms *cmd, mp_dir_config *conf, mp_phase phase,
                                const char *args, int silent)
{
    const mp_phase_info *info = &mp_phases[phase];
    const char *w, *err;
    apr_array_header_t *list, *exts = handler_exts(cmd, info, &args, &err);
    int n = 0;

    if (err)
        return err;
    list = conf->handlers[phase] ? conf->handlers[phase]
                                 : apr_array_make(cmd->pool, 2, sizeof(mp_handler));
    while (*(w = ap_getword_conf(cmd->pool, &args))) {
        mp_handler *h = apr_array_push(list);
        if ((err = mp_handler_init(cmd, h, w, info->callable)))
            return apr_pstrcat(cmd->pool, info->directive, ": ", err, NULL);
        h->exts = exts;
        h->silent = silent;
        n++;
    }
    if (!n)
        return apr_pstrcat(cmd->pool, cmd->cmd->name,
                           " requires at least one module[::object]", NULL);
    conf->handlers[phase] = list;
    conf->phases |= 1u << phase;
    return NULL;
}

static const char *handler_cmd(cmd_parms *cmd, void *mconfig, const char *args)
{
    return add_handlers(cmd, mconfig, (mp_phase)(intptr_t)cmd->info, args, 0);
}

/* PythonHandlerModule mod: mod's phase functions handle every phase it
 * has one for, silently skipped where it has none (3.5). */
static const char *handler_module_cmd(cmd_parms *cmd, void *mconfig, const char *args)
{
    const char *err;

    if (ap_strchr_c(args, '|'))
        return "PythonHandlerModule: the '| .ext' form is not allowed here";
    for (int i = 0; i < MP_NPHASES; i++)
        if ((err = add_handlers(cmd, mconfig, (mp_phase)i, args, 1)))
            return err;
    return NULL;
}

/* PythonConnectionHandler module[::object]: the one handler of the
 * server's (or virtual host's) connections, run instead of HTTP.  3.5 ran
 * only the first of several: more than one is refused. */
static const char *conn_handler_cmd(cmd_parms *cmd, void *mconfig, const char *args)
{
    mp_server_config *sc = mp_srv_conf(cmd->server);
    const char *spec = ap_getword_conf(cmd->pool, &args), *err;
    mp_handler *h;

    if (!*spec)
        return "PythonConnectionHandler requires a module[::object]";
    if (*ap_getword_conf(cmd->temp_pool, &args))
        return "PythonConnectionHandler takes one module[::object]";
    if (sc->conn_handler)
        return "PythonConnectionHandler is already set for this server";
    h = apr_palloc(cmd->pool, sizeof(*h));
    if ((err = mp_handler_init(cmd, h, spec, "connectionhandler")))
        return apr_pstrcat(cmd->pool, "PythonConnectionHandler: ", err, NULL);
    sc->conn_handler = h;
    (void)mconfig;
    return NULL;
}

/* On/Off directives: a typed field plus get_config()'s "1"/"0". */
static const char *flag_cmd(cmd_parms *cmd, void *mconfig, int on)
{
    size_t off = (size_t)(intptr_t)cmd->info;
    mp_dir_config *srv = server_side(cmd);
    const char *name = cmd->cmd->name;

    *(int *)((char *)mconfig + off) = on;
    apr_table_set(((mp_dir_config *)mconfig)->directives, name, on ? "1" : "0");
    if (srv && strcmp(name, "PythonInterpPerDirectory") != 0) {
        *(int *)((char *)srv + off) = on;
        apr_table_set(srv->directives, name, on ? "1" : "0");
    }
    return NULL;
}

static void set_string(cmd_parms *cmd, mp_dir_config *c, const char *val)
{
    if (!strcmp(cmd->cmd->name, "PythonInterpreter"))
        c->interpreter = val;
    else
        c->python_path = val;
    apr_table_set(c->directives, cmd->cmd->name, val);
}

static const char *string_cmd(cmd_parms *cmd, void *mconfig, const char *val)
{
    mp_dir_config *srv = server_side(cmd);

    if (!*val)
        return apr_pstrcat(cmd->pool, cmd->cmd->name, " requires a non-empty value", NULL);
    set_string(cmd, mconfig, val);
    if (srv)
        set_string(cmd, srv, val);
    return NULL;
}

static void set_option(mp_dir_config *c, const char *key, const char *val)
{
    apr_table_set(c->options, key, val ? val : "");
    c->importer_path = apr_table_get(c->options, MP_OPT_IMPORTER_PATH);
}

/* The importer's options with a fixed form: a typo fails configtest
 * rather than silently doing the default. */
static const char *importer_option_check(cmd_parms *cmd, const char *key,
                                         const char *val)
{
    if (!val || !*val || strncmp(key, "mod_python.importer.", 20) != 0)
        return NULL;
    if (!strcmp(key, MP_OPT_ON_RELOAD_ERROR) && strcmp(val, "keep") != 0 &&
        strcmp(val, "raise") != 0)
        return apr_psprintf(cmd->pool, "PythonOption %s: '%s' is not 'keep' or "
                            "'raise'", key, val);
    if (!strcmp(key, MP_OPT_BYTECODE_DIR) && *val != '/')
        return apr_psprintf(cmd->pool, "PythonOption %s: '%s' is not an "
                            "absolute path", key, val);
    if ((!strcmp(key, MP_OPT_BYTECODE) || !strcmp(key, MP_OPT_NOTIFY) ||
         !strcmp(key, MP_OPT_IMPORTER_LOG)) && mp_flag_value(val) < 0)
        return apr_psprintf(cmd->pool, "PythonOption %s: '%s' is not On or Off",
                            key, val);
    return NULL;
}

static const char *option_cmd(cmd_parms *cmd, void *mconfig, const char *key,
                              const char *val)
{
    mp_dir_config *srv = server_side(cmd);
    const char *err;

    if (!*key)
        return "PythonOption requires a non-empty key";
    if ((err = mp_locks_check_option(cmd, key, val)) ||
        (err = importer_option_check(cmd, key, val)))
        return err;
    /* A missing value means "unset": get_options() drops empty values. */
    set_option(mconfig, key, val);
    if (srv)
        set_option(srv, key, val);
    return NULL;
}

static const char *import_cmd(cmd_parms *cmd, void *mconfig, const char *spec,
                              const char *interp)
{
    mp_server_config *sc = mp_srv_conf(cmd->server);
    mp_import *imp = apr_array_push(sc->imports);

    imp->interp = interp;
    imp->where = apr_psprintf(cmd->pool, "%s:%d", cmd->directive->filename,
                              cmd->directive->line_num);
    if (mp_parse_handler_spec(cmd->pool, spec, NULL, &imp->module, &imp->function) < 0)
        return apr_psprintf(cmd->pool, "PythonImport: invalid module '%s' "
                            "(expected module[::function])", spec);
    if (!*interp)
        return "PythonImport requires an interpreter name";
    (void)mconfig;
    return NULL;
}

static const char *home_cmd(cmd_parms *cmd, void *mconfig, const char *path)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);

    if (err)
        return err;
    if (path[0] != '/')
        return "PythonHome must be an absolute path";
    mp_srv_conf(cmd->server)->python_home = path;
    (void)mconfig;
    return NULL;
}

/* PythonOptimize On|Off: Python's -OO, for every interpreter; Python
 * starts once, so the main server's value at start-up counts. */
static const char *optimize_cmd(cmd_parms *cmd, void *mconfig, int on)
{
    mp_srv_conf(cmd->server)->optimize = on;
    (void)mconfig;
    return NULL;
}

int mp_interp_limit(const server_rec *s)
{
    int n = mp_srv_conf(s)->interp_limit;

    return n ? n : MP_DEFAULT_INTERP_LIMIT;
}

static const char *interp_limit_cmd(cmd_parms *cmd, void *mconfig, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    char *end;
    apr_int64_t n;

    if (err)
        return err;
    errno = 0;
    n = apr_strtoi64(arg, &end, 10);
    if (errno || end == arg || *end || n < 1 || n > 100000)
        return apr_psprintf(cmd->pool, "PythonInterpLimit: '%s' is not a number "
                            "from 1 to 100000", arg);
    mp_srv_conf(cmd->server)->interp_limit = (int)n;
    (void)mconfig;
    return NULL;
}

mp_gil_mode mp_interp_gil(const server_rec *s)
{
    int gil = mp_srv_conf(s)->gil;

    return gil < 0 ? MP_GIL_SHARED : (mp_gil_mode)gil;
}

/* PythonInterpreterGIL shared|own|auto.  `own` needs PEP 684 (3.12): on an
 * older Python, a configuration error rather than a silent shared GIL;
 * `auto` is shared there. */
static const char *gil_cmd(cmd_parms *cmd, void *mconfig, const char *arg)
{
    static const char *const words[] = { "shared", "own", "auto" };
    int i = 0;

    while (i < 3 && strcasecmp(arg, words[i]))
        i++;
    if (i == 3)
        return apr_psprintf(cmd->pool, "PythonInterpreterGIL: '%s' is not "
                            "shared, own or auto", arg);
#if PY_VERSION_HEX < 0x030C0000
    if (i == MP_GIL_OWN)
        return "PythonInterpreterGIL own: interpreters with their own GIL need "
               "Python 3.12 or later; this mod_python is built for Python "
               PY_VERSION " (use shared, or auto)";
    if (i == MP_GIL_AUTO)
        i = MP_GIL_SHARED;
#endif
    mp_srv_conf(cmd->server)->gil = i;
    (void)mconfig;
    return NULL;
}

/* ------------------------------------------------------ filters */

/* The httpd layer's filter functions (mp_config_filter_funcs). */
static ap_in_filter_func filter_in_func;
static ap_out_filter_func filter_out_func;

void mp_config_filter_funcs(ap_in_filter_func in, ap_out_filter_func out)
{
    filter_in_func = in;
    filter_out_func = out;
}

const mp_handler *mp_filter_handler(const mp_dir_config *c, int input, const char *name)
{
    return c && c->filters[input] ? apr_hash_get(c->filters[input], name,
                                                 APR_HASH_KEY_STRING) : NULL;
}

/* PythonInputFilter / PythonOutputFilter handler [name]: the name is
 * registered with httpd at once, as 3.5 did (mod_filter's
 * AddOutputFilterByType looks names up while the configuration is read);
 * the handler is kept in this section under httpd's lower-cased name. */
static const char *filter_cmd(cmd_parms *cmd, void *mconfig, const char *spec,
                              const char *name)
{
    int input = cmd->info != NULL;
    mp_dir_config *c = mconfig;
    mp_handler *h = apr_palloc(cmd->pool, sizeof(*h));
    const char *err = mp_handler_init(cmd, h, spec, input ? "inputfilter" : "outputfilter");
    char *key;

    if (err)
        return apr_pstrcat(cmd->pool, cmd->cmd->name, ": ", err, NULL);
    if (!name)
        name = spec;
    if (!*name || strpbrk(name, " \t"))
        return apr_psprintf(cmd->pool, "%s: invalid filter name '%s'", cmd->cmd->name, name);
    if (!strcasecmp(name, MP_FILTER_GENERIC))
        return apr_pstrcat(cmd->pool, cmd->cmd->name, ": the filter name " MP_FILTER_GENERIC
                           " is mod_python's own (req.add_input_filter()...)", NULL);
    if (input)
        ap_register_input_filter(name, filter_in_func, NULL, AP_FTYPE_RESOURCE);
    else
        ap_register_output_filter(name, filter_out_func, NULL, AP_FTYPE_RESOURCE);
    key = apr_pstrdup(cmd->pool, name);
    ap_str_tolower(key);
    if (!c->filters[input])
        c->filters[input] = apr_hash_make(cmd->pool);
    apr_hash_set(c->filters[input], key, APR_HASH_KEY_STRING, h);
    return NULL;
}

#define HANDLER(name, ph, where, help) \
    AP_INIT_RAW_ARGS(name, handler_cmd, (void *)(intptr_t)(ph), where, help)
#define FLAG(name, field, help) \
    AP_INIT_FLAG(name, flag_cmd, (void *)offsetof(mp_dir_config, field), OR_ALL, help)

const command_rec mp_directives[] = {
    HANDLER("PythonPostReadRequestHandler", MP_POST_READ_REQUEST, RSRC_CONF, "post_read_request handlers"),
    HANDLER("PythonTransHandler", MP_TRANS, RSRC_CONF, "translate_name handlers"),
    HANDLER("PythonHeaderParserHandler", MP_HEADER_PARSER, OR_ALL, "header_parser handlers"),
    HANDLER("PythonInitHandler", MP_INIT, OR_ALL, "handlers for the first phase of the section"),
    HANDLER("PythonAccessHandler", MP_ACCESS, OR_ALL, "access_checker handlers"),
    HANDLER("PythonAuthenHandler", MP_AUTHEN, OR_ALL, "check_user_id (authentication) handlers"),
    HANDLER("PythonAuthzHandler", MP_AUTHZ, OR_ALL, "auth_checker (authorization) handlers"),
    HANDLER("PythonTypeHandler", MP_TYPE, OR_ALL, "type_checker handlers"),
    HANDLER("PythonFixupHandler", MP_FIXUP, OR_ALL, "fixups handlers"),
    HANDLER("PythonHandler", MP_HANDLER, OR_ALL, "content handlers (SetHandler mod_python)"),
    HANDLER("PythonLogHandler", MP_LOG, OR_ALL, "log_transaction handlers"),
    HANDLER("PythonCleanupHandler", MP_CLEANUP, OR_ALL, "handlers run when the request is done"),
    FLAG("PythonDebug", debug, "On: tracebacks to the client, import logging"),
    FLAG("PythonAutoReload", autoreload, "Off: never check modules for changes"),
    FLAG("PythonEnablePdb", enable_pdb,
         "On: run handlers under pdb when httpd runs with -X (-DONE_PROCESS)"),
    FLAG("PythonInterpPerDirectory", per_directory,
         "On: one interpreter per directory of the requested file"),
    FLAG("PythonInterpPerDirective", per_directive,
         "On: one interpreter per directory of the handler directive"),
    AP_INIT_TAKE1("PythonInterpreter", string_cmd, NULL, OR_ALL,
                  "name of the Python interpreter to run in"),
    AP_INIT_TAKE1("PythonPath", string_cmd, NULL, OR_ALL,
                  "Python list expression assigned to sys.path"),
    AP_INIT_TAKE12("PythonOption", option_cmd, NULL, OR_ALL,
                   "PythonOption key [value]: for req.get_options()"),
    AP_INIT_TAKE2("PythonImport", import_cmd, NULL, RSRC_CONF,
                  "PythonImport module[::function] interpreter: run at child start"),
    AP_INIT_TAKE1("PythonInterpLimit", interp_limit_cmd, NULL, RSRC_CONF,
                  "most interpreters per process named after request paths "
                  "(PythonInterpPerDirectory/PerDirective); default 64"),
    AP_INIT_RAW_ARGS("PythonHandlerModule", handler_module_cmd, NULL, OR_ALL,
                     "module whose phase functions handle every phase it has one for"),
    AP_INIT_FLAG("PythonOptimize", optimize_cmd, NULL, RSRC_CONF,
                 "On: optimize byte code as python -OO does (asserts, docstrings)"),
    AP_INIT_TAKE12("PythonInputFilter", filter_cmd, (void *)1, RSRC_CONF | ACCESS_CONF,
                   "PythonInputFilter module[::object] [name]: a Python input filter"),
    AP_INIT_TAKE12("PythonOutputFilter", filter_cmd, NULL, RSRC_CONF | ACCESS_CONF,
                   "PythonOutputFilter module[::object] [name]: a Python output filter"),
    AP_INIT_RAW_ARGS("PythonConnectionHandler", conn_handler_cmd, NULL, RSRC_CONF,
                     "module[::object] handling the server's connections instead of HTTP"),
    AP_INIT_TAKE1("PythonInterpreterGIL", gil_cmd, NULL, RSRC_CONF,
                  "shared (default), own (3.12+: this virtual host's "
                  "interpreters run in parallel with the others), or auto"),
    AP_INIT_TAKE1("PythonHome", home_cmd, NULL, RSRC_CONF,
                  "prefix of the Python installation to embed"),
    {NULL}
};

