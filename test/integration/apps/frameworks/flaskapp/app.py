"""A Flask application in a file, with its views in a module beside it,
loaded by mod_python's importer (PythonOption mod_python.wsgi.application
/path/app.py::app): editing views.py reloads views.py and app.py on the
next request."""
import os

from flask import Flask

import views

# The importer keeps the module out of sys.modules, so Flask cannot find
# this directory from __name__: root_path says where templates/ is.
app = Flask(__name__, root_path=os.path.dirname(os.path.abspath(__file__)))
app.secret_key = b"mod_python integration tests only"
app.register_blueprint(views.bp)
