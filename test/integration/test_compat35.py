"""mod_python 3.5's dispatch rules and directives, as 3.5 applications and
configurations use them: Class.method handlers, PythonHandlerModule,
add_handler without a directory, live configuration tables,
register_cleanup's data, req.hlist, req.extension, get_addhandler_exts,
PythonEnablePdb and PythonOptimize; against a real httpd."""
import json
import os
import select
import subprocess
import time

import pytest

from harness import HTTPD, Httpd, one_child, wait_for


@pytest.fixture(scope="module", params=["event", "prefork"])
def srv(request):
    h = Httpd(request.param)
    try:
        h.config(h.install_app("compat35"), mpm_settings=one_child(request.param))
        h.start()
        yield h
    finally:
        h.cleanup()


def js(r):
    assert r.status == 200, (r.status, r.body)
    return json.loads(r.body)


def test_class_method_handler_instantiates_the_class_with_the_request(srv):
    r = srv.request("/app/cls/page")
    assert r.status == 200, r.body
    assert r.body.startswith(b"rendered Page for /app/cls/page, instances "), r.body
    n = int(r.body.rsplit(b" ", 1)[1])
    # one instance per request, as 3.5
    r = srv.request("/app/cls/page")
    assert int(r.body.rsplit(b" ", 1)[1]) == n + 1


def test_missing_object_names_the_file(srv):
    r = srv.request("/app/missing/x")
    assert r.status == 500
    want = "module '%s/app/classy.py' contains no 'nothing_here'" % srv.htdocs
    assert want in r.text, r.body
    assert wait_for(lambda: want in srv.log())


def test_handler_module_runs_the_phases_it_has_and_skips_the_others(srv):
    r = srv.request("/mod/x")
    assert r.status == 200, r.body
    assert r.body == b"handler after fixup=ran silent=1"
    assert srv.request("/mod/x?deny").status == 403
    assert not [l for l in srv.log().splitlines() if "phases" in l and ":error]" in l]


def test_add_handler_without_directory_finds_the_module_beside_the_handler(srv):
    r = srv.request("/app/x?add_beside")
    assert r.status == 200, r.body
    assert r.body == b"first;beside"


def test_add_handler_directory_is_made_canonical(srv):
    r = srv.request("/app/x?add_dir")
    assert r.status == 200, r.body
    assert r.body == ("first;elsewhere:%s/sub/" % srv.htdocs).encode()


def test_config_and_options_are_live_for_the_request(srv):
    d = js(srv.request("/app/x?options"))
    assert d["before"] == {"mode": "app", "server_level": "yes"}  # empty values unset
    assert d["again"]["written"] == "yes"
    assert d["config"] == "1"
    assert d["server_level"] == "yes"
    # a write is this request's: the next request starts from the configuration
    d2 = js(srv.request("/app/x?options"))
    assert "written" not in d2["before"]
    # server.get_options() is the process's own table: writes stay (one child)
    assert d2["server_count"] == d["server_count"] + 1


def test_register_cleanup_passes_data_or_none(srv):
    js(srv.request("/app/x?cleanup_data"))
    path = srv.error_log + ".cleanup"
    assert wait_for(lambda: os.path.exists(path) and
                    open(path).read().count("\n") >= 2), srv.log()
    lines = open(path).read().split("\n")
    assert "None" in lines and "'with data'" in lines


def test_hlist_in_a_directory(srv):
    d = js(srv.request("/app/x?hlist"))
    assert d["first"] == {"handler": "main", "silent": 0, "is_location": 0,
                          "directory": srv.htdocs + "/app/"}
    assert d["after"] == [None, None]


def test_hlist_in_a_location(srv):
    d = js(srv.request("/loc/x"))
    assert d["first"]["is_location"] == 1
    assert d["first"]["directory"] == "/loc"
    assert d["first"]["handler"].endswith("main.py::hlist")


def test_extension_of_the_handler_chosen_by_extension(srv):
    assert js(srv.request("/ext/page.xyz")) == {"extension": ".xyz"}
    assert js(srv.request("/app/x?extension")) == {"extension": None}


def test_get_addhandler_exts(srv):
    assert js(srv.request("/app/x?exts")) == ["psp", "py"]
    # outside the directory with AddHandler there are none
    assert js(srv.request("/loc/x")) and True


# ------------------------------------------------------------ configtest

@pytest.mark.parametrize("line,msg", [
    ("PythonHandlerModule", "PythonHandlerModule requires at least one module"),
    ("PythonHandlerModule mod | .py", "PythonHandlerModule: the '| .ext' form"),
    ("PythonHandlerModule ::x", "invalid handler '::x'"),
    ("PythonEnablePdb maybe", "PythonEnablePdb must be On or Off"),
    ("PythonOptimize yes", "PythonOptimize must be On or Off"),
    ("<Directory /tmp>\nPythonOptimize On\n</Directory>", "PythonOptimize not allowed in <Directory>"),
])
def test_bad_directives_fail_configtest(line, msg):
    h = Httpd("event")
    try:
        h.config(line + "\n")
        ok, out = h.configtest()
        assert not ok and msg in out, out
        assert "line" in out, out
    finally:
        h.cleanup()


def test_all_26_directives_of_35_pass_configtest():
    h = Httpd("event")
    try:
        h.config("""
            PythonImport mod main_interpreter
            PythonPostReadRequestHandler mod
            PythonTransHandler mod
            PythonOptimize Off
            <Directory /tmp>
                PythonAccessHandler mod
                PythonAuthenHandler mod
                PythonAutoReload On
                PythonAuthzHandler mod
                PythonCleanupHandler mod
                PythonDebug On
                PythonEnablePdb Off
                PythonFixupHandler mod
                PythonHandler mod
                PythonHeaderParserHandler mod
                PythonInitHandler mod
                PythonInterpPerDirective Off
                PythonInterpPerDirectory Off
                PythonInterpreter name
                PythonLogHandler mod
                PythonHandlerModule mod
                PythonOption key value
                PythonPath "sys.path"
                PythonTypeHandler mod
                PythonInputFilter mod MYIN
                PythonOutputFilter mod MYOUT
            </Directory>
            <VirtualHost 127.0.0.1:8>
                PythonConnectionHandler mod
            </VirtualHost>
        """)
        ok, out = h.configtest()
        assert ok, out
    finally:
        h.cleanup()


# ------------------------------------------------------------ PythonOptimize

def test_optimize_on_strips_asserts_and_docstrings():
    h = Httpd("prefork")
    try:
        h.write("htdocs/o/opt.py", '''
            """doc"""
            import sys

            def handler(req):
                assert False, "asserts run"
                req.write("optimize=%d debug=%s doc=%s" % (sys.flags.optimize, __debug__, __doc__))
                return 0
            ''')
        h.config("""
            PythonOptimize On
            <Directory {d}/o>
                SetHandler mod_python
                PythonHandler opt
            </Directory>
        """.format(d=h.htdocs), mpm_settings=one_child("prefork"))
        h.start()
        r = h.request("/o/x")
        assert r.status == 200, (r.body, h.log())
        assert r.body == b"optimize=2 debug=False doc=None"
    finally:
        h.cleanup()


# ------------------------------------------------------------ PythonEnablePdb

PDB_CONF = """
    PythonEnablePdb On
    <Directory {d}/p>
        SetHandler mod_python
        PythonHandler dbg
    </Directory>
"""

PDB_HANDLER = '''
    def handler(req):
        x = "under pdb"
        req.write(x)
        return 0
    '''


def test_enable_pdb_without_one_process_runs_plainly():
    h = Httpd("prefork")
    try:
        h.write("htdocs/p/dbg.py", PDB_HANDLER)
        h.config(PDB_CONF.format(d=h.htdocs), mpm_settings=one_child("prefork"))
        h.start()
        r = h.request("/p/x")
        assert r.status == 200 and r.body == b"under pdb"
    finally:
        h.cleanup()


def test_enable_pdb_with_one_process_runs_the_handler_under_pdb():
    """httpd -X: the handler stops at pdb's prompt on httpd's terminal;
    commands from it ("p x", "c") run, then the response goes out."""
    h = Httpd("prefork")
    proc = None
    try:
        h.write("htdocs/p/dbg.py", PDB_HANDLER)
        h.config(PDB_CONF.format(d=h.htdocs))
        proc = subprocess.Popen([HTTPD, "-f", h.conf, "-X", "-DONE_PROCESS"], env=h.env(),
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT)
        h.wait_up()
        proc.stdin.write(b"n\np x\nc\n")
        proc.stdin.flush()
        r = h.request("/p/x")
        assert r.status == 200 and r.body == b"under pdb"
        out = b""
        deadline = time.time() + 10
        while b"'under pdb'" not in out and time.time() < deadline:
            if select.select([proc.stdout], [], [], 0.5)[0]:
                out += os.read(proc.stdout.fileno(), 65536)
        assert b"(Pdb)" in out and b"'under pdb'" in out, out
    finally:
        if proc:
            proc.terminate()
            proc.wait(30)
        h.cleanup()


def test_apache_resolve_object_module_mtime_and_server_return(srv):
    d = js(srv.request("/app/x?apache_helpers"))
    assert d == {"bound_to": "Page", "silent": None, "mtime": True, "same_exception": True,
                 "missing": "module '%s/app/classy.py' contains no 'nope'" % srv.htdocs}


# ------------------------------------------------------------ every member of 3.5

REQUEST_35 = """write get_config build_wsgi_env wsgi_start_response add_cgi_vars
add_common_vars add_handler add_input_filter add_output_filter allow_methods auth_name
auth_type construct_url discard_request_body document_root flush get_basic_auth_pw
get_addhandler_exts get_remote_host get_options internal_redirect is_https log_error
meets_conditions read readline readlines register_cleanup register_input_filter
register_output_filter send_http_header sendfile set_content_length set_etag
set_last_modified ssl_var_lookup update_mtime
handler uri interpreter connection server next prev main the_request assbackwards proxyreq
header_only protocol proto_num hostname request_time status_line status method
method_number allowed allowed_xmethods allowed_methods sent_bodyct bytes_sent mtime chunked
range clength remaining read_length read_body read_chunked expecting_100 content_type
content_encoding content_languages vlist_validator user ap_auth_type no_cache no_local_copy
unparsed_uri filename canonical_filename path_info args finfo parsed_uri used_path_info
headers_in headers_out err_headers_out subprocess_env notes eos_sent _bytes_queued
_request_rec useragent_addr useragent_ip _content_type_set phase extension hlist""".split()

CONNECTION_35 = """log_error read readline write base_server local_addr client_addr client_ip
remote_ip remote_addr remote_host remote_logname aborted keepalive double_reverse keepalives
local_ip local_host id notes hlist _conn_rec""".split()

SERVER_35 = """get_config get_options log_error register_cleanup next defn_name
defn_line_number server_admin server_hostname port error_fname loglevel is_virtual timeout
keep_alive_timeout keep_alive_max keep_alive path pathlen names wild_names limit_req_line
limit_req_fieldsize limit_req_fields my_generation restart_time _server_rec""".split()

TABLE_35 = """keys values items get has_key add setdefault update clear copy popitem
iterkeys itervalues iteritems __len__ __getitem__ __setitem__ __delitem__ __contains__
__iter__ __eq__ __ne__ __repr__""".split()

HLIST_35 = "next handler silent is_location directory".split()
FINFO_35 = """fname filetype valid protection user group inode device nlink size atime mtime
ctime name __getitem__""".split()

_APACHE_35 = """config_tree log_error mpm_query parse_qs parse_qsl server_root register_cleanup
exists_config_define stat _global_lock _global_trylock _global_unlock SERVER_RETURN table
AP_CONN_UNKNOWN AP_CONN_CLOSE AP_CONN_KEEPALIVE APR_NOFILE APR_REG APR_DIR APR_CHR APR_BLK
APR_PIPE APR_LNK APR_SOCK APR_UNKFILE MODULE_MAGIC_NUMBER_MAJOR
MODULE_MAGIC_NUMBER_MINOR""".split()

# 3.5's apache.py, but for CallBack/init (its Python dispatcher: ours is C).
APACHE_35 = """OK DONE DECLINED REQ_PROCEED REQ_NOACTION REQ_ABORTED REQ_EXIT SERVER_RETURN
HTTP_OK HTTP_NOT_FOUND HTTP_INTERNAL_SERVER_ERROR APLOG_EMERG APLOG_DEBUG APLOG_NOERRNO
AP_MPMQ_IS_THREADED M_GET M_INVALID REMOTE_HOST REMOTE_NAME REMOTE_NOLOOKUP
REMOTE_DOUBLE_REV PROXYREQ_NONE PROXYREQ_PROXY PROXYREQ_REVERSE PROXYREQ_RESPONSE
CGI_MAGIC_TYPE INCLUDES_MAGIC_TYPE INCLUDES_MAGIC_TYPE3 DIR_MAGIC_TYPE REQUEST_NO_BODY
REQUEST_CHUNKED_ERROR REQUEST_CHUNKED_DECHUNK AP_CONN_UNKNOWN AP_CONN_CLOSE
AP_CONN_KEEPALIVE MODULE_MAGIC_NUMBER_MAJOR MODULE_MAGIC_NUMBER_MINOR APR_NOFILE
APR_UNKFILE APR_FINFO_LINK APR_FINFO_MTIME APR_FINFO_CTIME APR_FINFO_ATIME APR_FINFO_SIZE
APR_FINFO_CSIZE APR_FINFO_DEV APR_FINFO_INODE APR_FINFO_NLINK APR_FINFO_TYPE
APR_FINFO_USER APR_FINFO_GROUP APR_FINFO_UPROT APR_FINFO_GPROT APR_FINFO_WPROT
APR_FINFO_ICASE APR_FINFO_NAME APR_FINFO_MIN APR_FINFO_IDENT APR_FINFO_OWNER
APR_FINFO_PROT APR_FINFO_NORM APR_FINFO_DIRENT FINFO_MODE FINFO_INO FINFO_DEV FINFO_NLINK
FINFO_UID FINFO_GID FINFO_SIZE FINFO_ATIME FINFO_MTIME FINFO_CTIME FINFO_FNAME FINFO_NAME
FINFO_FILETYPE URI_SCHEME URI_HOSTINFO URI_USER URI_PASSWORD URI_HOSTNAME URI_PORT URI_PATH
URI_QUERY URI_FRAGMENT AP_REQ_ACCEPT_PATH_INFO AP_REQ_REJECT_PATH_INFO
AP_REQ_DEFAULT_PATH_INFO import_module log_error table make_table server_root mpm_query
exists_config_define interpreter main_server config_tree stat register_cleanup
resolve_object module_mtime build_cgi_env setup_cgi restore_nocgi NullIO CGIStdin
CGIStdout""".split()


def test_every_member_of_35s_objects_is_there(srv):
    d = js(srv.request("/app/x?members"))
    for name, want in [("request", REQUEST_35), ("connection", CONNECTION_35),
                       ("server", SERVER_35), ("table", TABLE_35), ("hlist", HLIST_35),
                       ("finfo", FINFO_35), ("_apache", _APACHE_35),
                       ("apache", APACHE_35)]:
        missing = sorted(set(want) - set(d[name]))
        assert not missing, (name, missing)
    assert len(set(REQUEST_35)) == 37 + 64
    assert d["types"] == ["mp_request", "mp_conn", "mp_server", "mp_table", "mp_hlist",
                          "mp_finfo"]
