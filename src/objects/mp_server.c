/* The server and connection objects: read-only views of server_rec and
 * conn_rec, with get_config()/get_options() and log_error().  A server
 * object may be kept (server_rec lives as long as the child), and takes
 * arbitrary attributes as 3.5's did (each object its own: req.server is
 * one object for the request); a connection object belongs to the request
 * it came from, or to the connection handler it was made for (mp_scope). */
#include "objects/mp_objects.h"
#include "objects/mp_process.h"
#include "objects/mp_conn_io.h"
#include "objects/mp_hlist.h"

#include "ap_mpm.h"
#include "http_connection.h"
#include "http_core.h"
#include "scoreboard.h"

#include <structmember.h>

typedef struct {
    PyObject_HEAD
    server_rec *s;
    PyObject *dict;          /* arbitrary attributes: server.foo = ... */
} mp_server;

typedef struct {
    PyObject_HEAD
    mp_scope *scope;
    PyObject *notes;
    PyObject *base_server;   /* made on first use, kept as 3.5's */
    PyObject *hlist;         /* a connection handler's: its mp_hlist */
    mp_conn_io io;           /* a connection handler's: read() and co. */
} mp_conn;

/* ------------------------------------------------------------ server */

PyObject *mp_server_new(mp_pystate *st, server_rec *s)
{
    mp_server *self = PyObject_GC_New(mp_server, st->server_type);

    if (!self)
        return NULL;
    self->s = s;
    self->dict = NULL;
    PyObject_GC_Track(self);
    return (PyObject *)self;
}

/* A GC type: its attributes may refer back to it. */
static int srv_traverse(mp_server *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->dict);
    return 0;
}

static int srv_clear(mp_server *self)
{
    Py_CLEAR(self->dict);
    return 0;
}

static void srv_dealloc(PyObject *self)
{
    PyTypeObject *type = Py_TYPE(self);

    PyObject_GC_UnTrack(self);
    srv_clear((mp_server *)self);
    PyObject_GC_Del(self);
    Py_DECREF(type);
}

server_rec *mp_server_rec(PyObject *o)
{
    /* of any interpreter: found by its deallocator (no subclasses) */
    return Py_TYPE(o)->tp_dealloc == srv_dealloc ? ((mp_server *)o)->s : NULL;
}

/* The interpreter's own copy of a server's configuration, made on first
 * use and the same table from then on, so that what code writes in it
 * (at import, say) is there for later requests of this process, as with
 * 3.5.  Not shared with other processes or interpreters. */
static PyObject *srv_conf_table(mp_server *self, int options)
{
    mp_pystate *st = mp_pystate_of_type(Py_TYPE(self));
    const mp_dir_config *c = mp_srv_conf(self->s)->conf;
    PyObject *key = Py_BuildValue("(ni)", (Py_ssize_t)self->s, options), *t = NULL;

    if (!key)
        return NULL;
    if ((t = PyDict_GetItemWithError(st->srv_conf, key))) {
        Py_INCREF(t);
    } else if (!PyErr_Occurred() &&
               (t = mp_table_copy(st, options ? c->options : c->directives, options)) &&
               PyDict_SetItem(st->srv_conf, key, t) < 0) {
        Py_CLEAR(t);
    }
    Py_DECREF(key);
    return t;
}

static PyObject *srv_get_config(mp_server *self, PyObject *u)
{
    return srv_conf_table(self, 0);
}

static PyObject *srv_get_options(mp_server *self, PyObject *u)
{
    return srv_conf_table(self, 1);
}

static PyObject *srv_log_error(mp_server *self, PyObject *args)
{
    return mp_log_error(self->s, NULL, NULL, args);
}

enum { S_HOSTNAME, S_ADMIN, S_PORT, S_VIRTUAL, S_DEFN, S_LINE, S_ERRFN,
       S_LOGLEVEL, S_TIMEOUT, S_KATIMEOUT, S_KAMAX, S_KA, S_NAMES, S_WILD,
       S_LIMIT_LINE, S_LIMIT_FIELDSIZE, S_LIMIT_FIELDS, S_NEXT, S_PATH, S_PATHLEN,
       S_GENERATION, S_RESTART_TIME, S_CAPSULE };

/* The MPM's generation: graceful restarts so far. */
static PyObject *generation(void)
{
    int g = 0;

    ap_mpm_query(AP_MPMQ_GENERATION, &g);
    return PyLong_FromLong(g);
}

/* When httpd last (re)started, in seconds, from the scoreboard. */
static PyObject *restart_time(void)
{
    if (!ap_scoreboard_image || !ap_scoreboard_image->global)
        Py_RETURN_NONE;
    return PyFloat_FromDouble(ap_scoreboard_image->global->restart_time /
                              (double)APR_USEC_PER_SEC);
}

static PyObject *array_tuple(const apr_array_header_t *a)
{
    PyObject *t = PyTuple_New(a ? a->nelts : 0);

    for (int i = 0; t && a && i < a->nelts; i++)
        PyTuple_SET_ITEM(t, i, mp_str_from_c(APR_ARRAY_IDX(a, i, const char *)));
    return t;
}

static PyObject *srv_get(mp_server *self, void *which)
{
    server_rec *s = self->s;

    switch ((intptr_t)which) {
    case S_HOSTNAME: return mp_str_from_c(s->server_hostname);
    case S_ADMIN: return mp_str_from_c(s->server_admin);
    case S_PORT: return PyLong_FromLong(s->port);
    case S_VIRTUAL: return PyBool_FromLong(s->is_virtual);
    case S_DEFN: return mp_str_from_c(s->defn_name);
    case S_LINE: return PyLong_FromLong(s->defn_line_number);
    case S_ERRFN: return mp_str_from_c(s->error_fname);
    case S_LOGLEVEL: return PyLong_FromLong(s->log.level);
    case S_TIMEOUT: return PyFloat_FromDouble(apr_time_as_msec(s->timeout) / 1000.0);
    case S_KATIMEOUT: return PyFloat_FromDouble(apr_time_as_msec(s->keep_alive_timeout) / 1000.0);
    case S_KAMAX: return PyLong_FromLong(s->keep_alive_max);
    case S_KA: return PyLong_FromLong(s->keep_alive);
    case S_NAMES: return array_tuple(s->names);
    case S_WILD: return array_tuple(s->wild_names);
    case S_LIMIT_LINE: return PyLong_FromLong(s->limit_req_line);
    case S_LIMIT_FIELDSIZE: return PyLong_FromLong(s->limit_req_fieldsize);
    case S_LIMIT_FIELDS: return PyLong_FromLong(s->limit_req_fields);
    case S_NEXT:
        if (!s->next)
            Py_RETURN_NONE;
        return mp_server_new(mp_pystate_of_type(Py_TYPE(self)), s->next);
    case S_PATH: return mp_str_from_c(s->path);
    case S_PATHLEN: return PyLong_FromLong(s->pathlen);
    case S_GENERATION: return generation();
    /* a capsule without a name, as 3.5's, for C extensions */
    case S_CAPSULE: return PyCapsule_New(s, NULL, NULL);
    default: return restart_time();
    }
}

#define GET(name, id) {name, (getter)srv_get, NULL, NULL, (void *)(intptr_t)(id)}
static PyGetSetDef srv_getset[] = {
    GET("server_hostname", S_HOSTNAME), GET("server_admin", S_ADMIN),
    GET("port", S_PORT), GET("is_virtual", S_VIRTUAL), GET("defn_name", S_DEFN),
    GET("defn_line_number", S_LINE), GET("error_fname", S_ERRFN),
    GET("loglevel", S_LOGLEVEL), GET("timeout", S_TIMEOUT),
    GET("keep_alive_timeout", S_KATIMEOUT), GET("keep_alive_max", S_KAMAX),
    GET("keep_alive", S_KA), GET("names", S_NAMES), GET("wild_names", S_WILD),
    GET("limit_req_line", S_LIMIT_LINE), GET("limit_req_fieldsize", S_LIMIT_FIELDSIZE),
    GET("limit_req_fields", S_LIMIT_FIELDS), GET("next", S_NEXT), GET("path", S_PATH),
    GET("pathlen", S_PATHLEN), GET("my_generation", S_GENERATION),
    GET("restart_time", S_RESTART_TIME), GET("_server_rec", S_CAPSULE),
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, NULL, NULL},
    {NULL}
};
#undef GET

static PyMethodDef srv_methods[] = {
    {"get_config", (PyCFunction)srv_get_config, METH_NOARGS, NULL},
    {"get_options", (PyCFunction)srv_get_options, METH_NOARGS, NULL},
    {"log_error", (PyCFunction)srv_log_error, METH_VARARGS, NULL},
    MP_SERVER_PROCESS_METHODS
    {NULL}
};

static PyObject *srv_repr(mp_server *self)
{
    return PyUnicode_FromFormat("<mod_python server %s:%d>",
                                self->s->server_hostname ? self->s->server_hostname : "",
                                self->s->port);
}

static PyMemberDef srv_members[] = {
    {"__dictoffset__", T_PYSSIZET, offsetof(mp_server, dict), READONLY},
    {NULL}
};

static PyType_Slot srv_slots[] = {
    {Py_tp_dealloc, srv_dealloc},
    {Py_tp_traverse, srv_traverse},
    {Py_tp_clear, srv_clear},
    {Py_tp_members, srv_members},
    {Py_tp_repr, srv_repr},
    {Py_tp_getset, srv_getset},
    {Py_tp_methods, srv_methods},
    {0, NULL}
};

static PyType_Spec srv_spec = {
    .name = "mod_python.mp_server",    /* __name__ mp_server, as in 3.5 */
    .basicsize = sizeof(mp_server),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC |
             Py_TPFLAGS_DISALLOW_INSTANTIATION | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = srv_slots,
};

PyTypeObject *mp_server_type_new(PyObject *module)
{
    return (PyTypeObject *)PyType_FromModuleAndSpec(module, &srv_spec, NULL);
}

/* ------------------------------------------------------------ connection */

PyObject *mp_conn_new(mp_pystate *st, mp_scope *scope)
{
    mp_conn *self = PyObject_GC_New(mp_conn, st->conn_type);

    if (!self)
        return NULL;
    self->scope = scope;
    mp_scope_incref(scope);
    self->notes = self->base_server = NULL;
    self->hlist = NULL;
    memset(&self->io, 0, sizeof(self->io));
    PyObject_GC_Track(self);
    return (PyObject *)self;
}

PyObject *mp_conn_for_handler(mp_pystate *st, conn_rec *c, const mp_handler *h)
{
    mp_scope *scope = mp_scope_new_conn(c);
    mp_conn *self = scope ? (mp_conn *)mp_conn_new(st, scope) : NULL;

    if (scope)
        mp_scope_decref(scope);  /* the object holds it */
    if (self && !(self->hlist = mp_hlist_new(st, h, 1)))
        Py_CLEAR(self);
    return (PyObject *)self;
}

void mp_conn_end(PyObject *conn)
{
    mp_scope_end(((mp_conn *)conn)->scope);
}

/* The conn_rec, or NULL with RuntimeError outside the request's (or
 * connection handler's) scope. */
static conn_rec *conn(mp_conn *self)
{
    return mp_scope_conn(self->scope);
}

conn_rec *mp_conn_io_of(PyObject *o, mp_conn_io **io)
{
    mp_conn *self = (mp_conn *)o;
    conn_rec *c = conn(self);

    if (c && !self->scope->of_conn) {
        /* raw bytes under HTTP's feet would break the request's protocol */
        PyErr_SetString(PyExc_RuntimeError, "connection read(), readline() and "
                        "write() are for connection handlers (PythonConnectionHandler); "
                        "a request has req.read() and req.write()");
        return NULL;
    }
    if (c && !self->io.in) {
        self->io.in = apr_brigade_create(c->pool, c->bucket_alloc);
        self->io.tmp = apr_brigade_create(c->pool, c->bucket_alloc);
    }
    *io = &self->io;
    return c;
}

static PyObject *addr_tuple(apr_sockaddr_t *a, const char *ip)
{
    if (!a)
        Py_RETURN_NONE;
    return Py_BuildValue("(Ni)", mp_str_from_c(ip), (int)a->port);
}

enum { C_CLIENT_IP, C_LOCAL_IP, C_CLIENT_ADDR, C_LOCAL_ADDR, C_REMOTE_HOST,
       C_LOCAL_HOST, C_ID, C_KEEPALIVES, C_KEEPALIVE, C_ABORTED, C_LOGNAME,
       C_BASE_SERVER, C_NOTES, C_DOUBLE_REVERSE, C_CAPSULE };

static PyObject *conn_get(mp_conn *self, void *which)
{
    conn_rec *c = conn(self);

    if (!c)
        return NULL;
    switch ((intptr_t)which) {
    case C_CLIENT_IP: return mp_str_from_c(c->client_ip);
    case C_LOCAL_IP: return mp_str_from_c(c->local_ip);
    case C_CLIENT_ADDR: return addr_tuple(c->client_addr, c->client_ip);
    case C_LOCAL_ADDR: return addr_tuple(c->local_addr, c->local_ip);
    case C_REMOTE_HOST: return mp_str_from_c(c->remote_host);
    case C_LOCAL_HOST: return mp_str_from_c(c->local_host);
    case C_ID: return PyLong_FromLong(c->id);
    case C_KEEPALIVES: return PyLong_FromLong(c->keepalives);
    case C_KEEPALIVE: return PyLong_FromLong(c->keepalive);
    case C_ABORTED: return PyBool_FromLong(c->aborted);
    case C_LOGNAME: return mp_str_from_c(c->remote_logname);
    case C_BASE_SERVER:
        /* one object, so that attributes set on it stay (3.5) */
        if (!self->base_server)
            self->base_server = mp_server_new(mp_pystate_of_type(Py_TYPE(self)),
                                              c->base_server);
        Py_XINCREF(self->base_server);
        return self->base_server;
    case C_DOUBLE_REVERSE: return PyLong_FromLong(c->double_reverse);
    /* a capsule without a name, as 3.5's; good while the request lasts */
    case C_CAPSULE: return PyCapsule_New(c, NULL, NULL);
    default:
        /* strings set in it live as long as the connection */
        if (!self->notes)
            self->notes = mp_table_wrap(mp_pystate_of_type(Py_TYPE(self)), c->notes,
                                        self->scope, c->pool, 0);
        Py_XINCREF(self->notes);
        return self->notes;
    }
}

/* conn.hlist: a connection handler's (3.5); None for a request's. */
static PyObject *conn_get_hlist(mp_conn *self, void *u)
{
    if (!conn(self))
        return NULL;
    return Py_NewRef(self->hlist ? self->hlist : Py_None);
}

static int conn_set_keepalive(mp_conn *self, PyObject *v, void *u)
{
    conn_rec *c = conn(self);
    long k = v ? PyLong_AsLong(v) : -1;

    if (!c)
        return -1;
    if (k == -1 && (!v || PyErr_Occurred())) {
        if (!PyErr_Occurred())
            PyErr_SetString(PyExc_TypeError, "keepalive cannot be deleted");
        return -1;
    }
    if (k != AP_CONN_UNKNOWN && k != AP_CONN_CLOSE && k != AP_CONN_KEEPALIVE) {
        PyErr_SetString(PyExc_ValueError, "keepalive must be AP_CONN_UNKNOWN, "
                        "AP_CONN_CLOSE or AP_CONN_KEEPALIVE");
        return -1;
    }
    c->keepalive = (ap_conn_keepalive_e)k;
    return 0;
}

static PyObject *conn_log_error(mp_conn *self, PyObject *args)
{
    conn_rec *c = conn(self);
    return c ? mp_log_error(c->base_server, NULL, c, args) : NULL;
}

#define GET(name, id) {name, (getter)conn_get, NULL, NULL, (void *)(intptr_t)(id)}
static PyGetSetDef conn_getset[] = {
    GET("client_ip", C_CLIENT_IP), GET("remote_ip", C_CLIENT_IP),
    GET("local_ip", C_LOCAL_IP), GET("client_addr", C_CLIENT_ADDR),
    GET("remote_addr", C_CLIENT_ADDR), GET("local_addr", C_LOCAL_ADDR),
    GET("remote_host", C_REMOTE_HOST), GET("local_host", C_LOCAL_HOST),
    GET("id", C_ID), GET("keepalives", C_KEEPALIVES),
    {"keepalive", (getter)conn_get, (setter)conn_set_keepalive, NULL, (void *)C_KEEPALIVE},
    GET("aborted", C_ABORTED), GET("remote_logname", C_LOGNAME),
    GET("base_server", C_BASE_SERVER), GET("notes", C_NOTES),
    GET("double_reverse", C_DOUBLE_REVERSE), GET("_conn_rec", C_CAPSULE),
    {"hlist", (getter)conn_get_hlist, NULL, "a connection handler's handler list", NULL},
    {NULL}
};
#undef GET

static PyMethodDef conn_methods[] = {
    {"log_error", (PyCFunction)conn_log_error, METH_VARARGS, NULL},
    MP_CONN_IO_METHODS
    {NULL}
};

/* A GC type: its base_server's attributes may refer back to it.  Its
 * notes table and hlist refer to no Python object; its brigades are the
 * connection pool's. */
static int conn_traverse(mp_conn *self, visitproc visit, void *arg)
{
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(self->base_server);
    return 0;
}

static int conn_clear(mp_conn *self)
{
    Py_CLEAR(self->base_server);
    return 0;
}

static void conn_dealloc(mp_conn *self)
{
    PyTypeObject *type = Py_TYPE(self);

    PyObject_GC_UnTrack(self);
    conn_clear(self);
    Py_XDECREF(self->notes);
    Py_XDECREF(self->hlist);
    mp_scope_decref(self->scope);
    PyObject_GC_Del(self);
    Py_DECREF(type);
}

static PyType_Slot conn_slots[] = {
    {Py_tp_dealloc, conn_dealloc},
    {Py_tp_traverse, conn_traverse},
    {Py_tp_clear, conn_clear},
    {Py_tp_getset, conn_getset},
    {Py_tp_methods, conn_methods},
    {0, NULL}
};

static PyType_Spec conn_spec = {
    .name = "mod_python.mp_conn",      /* __name__ mp_conn, as in 3.5 */
    .basicsize = sizeof(mp_conn),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC |
             Py_TPFLAGS_DISALLOW_INSTANTIATION | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = conn_slots,
};

PyTypeObject *mp_conn_type_new(PyObject *module)
{
    return (PyTypeObject *)PyType_FromModuleAndSpec(module, &conn_spec, NULL);
}
