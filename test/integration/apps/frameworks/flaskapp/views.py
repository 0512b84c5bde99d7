import hashlib
import os
import threading
import time

from flask import (Blueprint, Response, jsonify, render_template, request, send_file,
                   session, stream_with_context, url_for)

bp = Blueprint("main", __name__)
HERE = os.path.dirname(os.path.abspath(__file__))
GREETING = "Hello from Flask"


@bp.route("/")
def index():
    return render_template("index.html", greeting=GREETING)


@bp.route("/form", methods=["GET", "POST"])
def form():
    if request.method == "POST":
        return render_template("form.html", name=request.form.get("name", ""),
                               colors=request.form.getlist("color"))
    return render_template("form.html", name=None, colors=[])


@bp.route("/upload", methods=["POST"])
def upload():
    f = request.files["data"]
    data = f.read()
    return jsonify(filename=f.filename, size=len(data), sha256=hashlib.sha256(data).hexdigest(),
                   field=request.form.get("field"))


@bp.route("/count")
def count():
    session["n"] = session.get("n", 0) + 1
    return "count %d" % session["n"]


@bp.route("/stream")
def stream():
    """Two pieces: the second waits until the client has the first (it
    creates the gate file), so a buffered response never completes."""
    gate = request.args["gate"]

    def pieces():
        yield "first piece\n"
        deadline = time.time() + 10
        while not os.path.exists(gate) and time.time() < deadline:
            time.sleep(0.01)
        yield "second piece, gate %s\n" % ("seen" if os.path.exists(gate) else "timed out")
    return Response(stream_with_context(pieces()), mimetype="text/plain")


@bp.route("/file")
def file():
    return send_file(os.path.join(HERE, "files", "data.bin"), mimetype="application/octet-stream")


@bp.route("/environ")
def environ():
    e = request.environ
    return jsonify(script_name=e["SCRIPT_NAME"], path_info=e["PATH_INFO"],
                   url=url_for("main.form"), errors=type(e["wsgi.errors"]).__name__,
                   multithread=e["wsgi.multithread"], thread=threading.get_ident())


@bp.route("/log")
def log():
    request.environ["wsgi.errors"].write("flask app: a line for the error log\n")
    return "logged"


@bp.route("/fail")
def fail():
    raise ValueError("a Flask view that fails")
