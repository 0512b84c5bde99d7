"""mod_python: Python handlers inside Apache httpd."""
version = "4.0.0-dev"
