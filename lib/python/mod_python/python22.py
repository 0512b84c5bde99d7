"""A no-op module: mod_python 3.5 kept it for code written for Python 2.2,
and old applications still import it."""
