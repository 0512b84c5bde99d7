import sys

from flask import jsonify, render_template, render_template_string
from markupsafe import Markup

from . import app

TITLE = "Flask package"


@app.route("/")
def index():
    return render_template("page.html", title=TITLE)


@app.route("/escape")
def escape():
    # Jinja2 escaping after a reload: markupsafe (a C extension) stays
    # loaded, Jinja2 and Flask are imported again over it.
    return render_template_string("{{ s }}|{{ m }}", s="<b>", m=Markup("<i>kept</i>"))


@app.route("/modules")
def modules():
    return jsonify(flask=id(sys.modules["flask"]), markupsafe=id(sys.modules["markupsafe"]),
                   app=id(app))
