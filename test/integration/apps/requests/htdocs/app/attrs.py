import json, sys
from mod_python import apache
def handler(req):
    req.custom = {"any": "thing"}
    d = {a: getattr(req, a) for a in (
        "uri", "unparsed_uri", "args", "method", "protocol", "hostname",
        "filename", "path_info", "the_request", "user", "interpreter",
        "phase", "useragent_ip", "status")}
    d["custom"] = req.custom
    d["document_root"] = req.document_root()
    d["construct_url"] = req.construct_url("/x")
    d["server"] = [req.server.server_hostname, req.server.port]
    d["client_ip"] = req.connection.client_ip
    d["ua"] = req.headers_in.get("USER-AGENT")
    d["has_ua"] = "user-agent" in req.headers_in
    d["config"] = dict(req.get_config().items())
    d["options"] = dict(req.get_options().items())
    d["apache"] = [apache.interpreter, apache.main_server.server_hostname,
                   apache.OK, apache.DECLINED, apache.DONE, apache.HTTP_NOT_FOUND,
                   apache.APLOG_NOTICE, apache.mpm_query(apache.AP_MPMQ_IS_THREADED) >= 0,
                   apache.exists_config_define("NO_SUCH_DEFINE"),
                   bool(apache.server_root())]
    d["path_count"] = sys.path.count(req.get_options()["extra"])
    req.content_type = "application/json"
    req.write(json.dumps(d))
    return apache.OK
