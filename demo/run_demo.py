"""Start (or stop) the demo httpd: two virtual hosts on two ports, each with
its own Python interpreter, serving demo/app with live reloading."""
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "integration"))
from harness import Httpd, free_port  # noqa: E402

ROOT = "/tmp/mod_python-demo"


def owner():
    """uid, gid of the user httpd's children run as (sessions are theirs)."""
    import pwd
    from harness import RUN_USER
    u = pwd.getpwnam(RUN_USER)
    return u.pw_uid, u.pw_gid


def stop(root=ROOT):
    pidfile = os.path.join(root, "run", "httpd.pid")
    if os.path.exists(pidfile):
        h = Httpd.__new__(Httpd)
        h.pidfile = pidfile
        h.stop()
        print("demo httpd stopped")
    shutil.rmtree(root, ignore_errors=True)


def start(root=ROOT, quiet=False):
    """Start the demo server in `root`; returns it and its two ports."""
    stop(root)
    port1, port2 = free_port(), free_port()
    h = Httpd("event", root=root, port=port1)
    shutil.copytree(os.path.join(HERE, "app"), h.path("htdocs", "app"))
    shutil.copytree(os.path.join(HERE, "site"), h.path("htdocs", "site"))
    os.makedirs(h.path("sessions"))
    os.chown(h.path("sessions"), *owner())
    for dirpath, dirs, files in os.walk(h.root):
        os.chmod(dirpath, 0o755)
    h.config("""
        LogLevel notice
        Listen 127.0.0.1:{port2}
        <Directory {htdocs}/app>
            SetHandler mod_python
            PythonHandler handler
            PythonOption mod_python.importer.log On
        </Directory>
        # A publisher site and PSP pages: forms, an upload, a session login.
        <Directory {htdocs}/site>
            SetHandler mod_python
            PythonHandler mod_python.publisher | .py
            PythonHandler mod_python.psp | .psp .psp_
            PythonDebug On
            PythonOption mod_python.importer.log On
            PythonOption mod_python.session.session_type FileSession
            PythonOption mod_python.file_session.database_directory {root}/sessions
            DirectoryIndex index.py
        </Directory>
        <VirtualHost 127.0.0.1:{port1}>
            ServerName first.demo
            DocumentRoot {htdocs}/app
            Alias /site {htdocs}/site
        </VirtualHost>
        <VirtualHost 127.0.0.1:{port2}>
            ServerName second.demo
            DocumentRoot {htdocs}/app
        </VirtualHost>
    """.format(port1=port1, port2=port2, htdocs=h.htdocs, root=h.root))
    h.start()
    if not quiet:
        show(h, port1, port2)
    return h, port1, port2


def show(h, port1, port2):
    print("mod_python demo is running:")
    print("  http://127.0.0.1:%d/   (virtual host first.demo)" % port1)
    print("  http://127.0.0.1:%d/   (virtual host second.demo, another interpreter)" % port2)
    print("  http://127.0.0.1:%d/site/index.py/index   (a publisher site: forms, an"
          " upload, a session login)" % port1)
    print("  http://127.0.0.1:%d/site/page.psp          (a PSP page)" % port1)
    print("Edit %s/app/greeting.py, site/index.py or site/page.psp and reload: the"
          " change shows at once." % h.htdocs)
    print("Import log: %s" % h.error_log)
    print("Stop it with: scripts/demo.sh stop")


if __name__ == "__main__":
    {"start": start, "stop": stop}[sys.argv[1] if len(sys.argv) > 1 else "start"]()
