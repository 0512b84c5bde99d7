"""Start (or stop) the demo httpd: two virtual hosts on two ports, each with
its own Python interpreter, serving demo/app with live reloading."""
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "test", "integration"))
from harness import Httpd, free_port  # noqa: E402

ROOT = "/tmp/mod_python-demo"


def stop():
    pidfile = os.path.join(ROOT, "run", "httpd.pid")
    if os.path.exists(pidfile):
        h = Httpd.__new__(Httpd)
        h.pidfile = pidfile
        h.stop()
        print("demo httpd stopped")
    shutil.rmtree(ROOT, ignore_errors=True)


def start():
    stop()
    port1, port2 = free_port(), free_port()
    h = Httpd("event", root=ROOT, port=port1)
    shutil.copytree(os.path.join(HERE, "app"), h.path("htdocs", "app"))
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
        <VirtualHost 127.0.0.1:{port1}>
            ServerName first.demo
            DocumentRoot {htdocs}/app
        </VirtualHost>
        <VirtualHost 127.0.0.1:{port2}>
            ServerName second.demo
            DocumentRoot {htdocs}/app
        </VirtualHost>
    """.format(port1=port1, port2=port2, htdocs=h.htdocs))
    h.start()
    print("mod_python demo is running:")
    print("  http://127.0.0.1:%d/   (virtual host first.demo)" % port1)
    print("  http://127.0.0.1:%d/   (virtual host second.demo, another interpreter)" % port2)
    print("Edit %s/app/greeting.py and reload: the change shows at once." % h.htdocs)
    print("Import log: %s" % h.error_log)
    print("Stop it with: scripts/demo.sh stop")


if __name__ == "__main__":
    {"start": start, "stop": stop}[sys.argv[1] if len(sys.argv) > 1 else "start"]()
