"""A Flask application as a package on sys.path (PythonPath), served with
PythonOption mod_python.wsgi.reload On: editing views.py reloads the
application (and Flask with it) on the next request."""
from flask import Flask

app = Flask(__name__)

from . import views  # noqa: E402,F401  (the routes)
