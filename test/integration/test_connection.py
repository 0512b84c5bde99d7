"""PythonConnectionHandler and the connection object's read(), readline()
and write(), as mod_python 3.5 applications use them: a line-echo protocol
server on a second port (apps/connection/proto/echo.py), tested with raw
sockets, while the first port keeps serving HTTP.  prefork, worker and
event: a connection handler holds its process or thread for the
connection's life (the event MPM too, as for mod_echo)."""
import http.client
import json
import re
import socket
import threading
import time

import pytest

from harness import Httpd, wait_for

TIMEOUT = 3   # the echo server's Timeout (apps/connection/httpd.conf)


@pytest.fixture(scope="module", params=["event", "worker", "prefork"])
def srv(request):
    h = Httpd(request.param)
    try:
        h.config(h.install_app("connection"))
        h.start()
        yield h
    finally:
        h.cleanup()


class Client:
    """A raw socket to the echo server, read by lines."""

    def __init__(self, srv, host="127.0.0.1"):
        self.sock = socket.create_connection((host, srv.port2), timeout=15)
        self.buf = b""

    def send(self, data):
        self.sock.sendall(data)

    def line(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("closed with %r unread" % self.buf)
            self.buf += chunk
        line, _, self.buf = self.buf.partition(b"\n")
        return line + b"\n"

    def exactly(self, n):
        while len(self.buf) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("closed with %r unread" % self.buf)
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n:]
        return data

    def ask(self, data):
        self.send(data)
        return self.line()

    def closed_by_server(self):
        """True once the server has closed the connection (EOF)."""
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
                self.buf += chunk
        except ConnectionResetError:
            return True

    def close(self):
        self.sock.close()


@pytest.fixture
def client(srv):
    made = []

    def make(host="127.0.0.1"):
        c = Client(srv, host)
        made.append(c)
        return c
    yield make
    for c in made:
        c.close()


def log_count(srv, text):
    return srv.log().count(text)


# ------------------------------------------------------------ the protocol

def test_lines_come_back_one_by_one(client):
    c = client()
    for i in range(20):
        line = b"line %d of the echo test\n" % i
        assert c.ask(line) == line
    assert c.ask(b"\r\n") == b"\r\n"


def test_several_lines_in_one_packet(client):
    c = client()
    lines = [b"first\n", b"second\n", b"\n", b"fourth\r\n"]
    c.send(b"".join(lines))
    assert [c.line() for _ in lines] == lines


def test_long_line(client):
    """A line of 1 MB comes back whole: readline() has no limit of its own
    (httpd gives a line at most 8 KB at a time)."""
    c = client()
    line = bytes(range(32, 127)) * (1024 * 1024 // 95) + b"\n"
    c.send(line)
    assert c.line() == line


def test_binary_bytes(client):
    c = client()
    data = bytes(b for b in range(256) if b != 10) + b"\n"
    assert c.ask(data) == data
    assert c.ask(b"\x00\x00\n") == b"\x00\x00\n"


def test_two_clients_at_once(client):
    """Both connections stay open and are served in turn: one handler
    waiting for its client does not hold up the other."""
    a, b = client(), client()
    for i in range(5):
        assert a.ask(b"a%d\n" % i) == b"a%d\n" % i
        assert b.ask(b"b%d\n" % i) == b"b%d\n" % i
    ia = json.loads(a.ask(b"!info\n"))
    ib = json.loads(b.ask(b"!info\n"))
    assert ia["remote_port"] != ib["remote_port"]


def test_many_clients_in_threads(srv):
    errors = []

    def run(n):
        try:
            c = Client(srv)
            for i in range(30):
                line = b"client %d line %d\n" % (n, i)
                if c.ask(line) != line:
                    errors.append((n, i))
            c.close()
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))
    threads = [threading.Thread(target=run, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors


def test_client_disconnects_mid_line(srv, client):
    c = client()
    assert c.ask(b"one\n") == b"one\n"
    c.send(b"half a line")
    c.close()
    assert wait_for(lambda: "echo: end after 1 lines, 11 bytes left" in srv.log())
    d = client()
    assert d.ask(b"still serving\n") == b"still serving\n"


def test_client_connects_sends_nothing_and_closes(srv, client):
    before = log_count(srv, "echo: end after 0 lines, 0 bytes left")
    c = client()
    c.close()
    assert wait_for(lambda: log_count(srv, "echo: end after 0 lines, 0 bytes left") > before)
    assert client().ask(b"next\n") == b"next\n"


def test_idle_client_is_timed_out(srv, client):
    """A client that connects and sends nothing does not hold a worker
    forever: the read gives up after Timeout (TimeoutError, logged with its
    traceback), and the server closes the connection."""
    before = log_count(srv, "TimeoutError: Connection read error")
    c = client()
    t = time.time()
    assert c.closed_by_server()
    took = time.time() - t
    assert TIMEOUT - 0.5 < took < TIMEOUT + 5, took
    assert wait_for(lambda: log_count(srv, "TimeoutError: Connection read error") > before)
    assert "MP00030: PythonConnectionHandler echo: Traceback" in srv.log()


def test_handler_catches_the_timeout(srv, client):
    c = client()
    c.send(b"!wait\n")
    t = time.time()
    assert c.closed_by_server()
    assert time.time() - t < TIMEOUT + 5
    assert wait_for(lambda: "echo: timed out: Connection read error: The timeout "
                            "specified has expired" in srv.log())


# ------------------------------------------------------------ read semantics

def test_read_n_gives_at_most_n(client):
    c = client()
    c.send(b"!read 3\nabcdef\n")
    assert c.line() == b"3:abc\n"
    assert c.line() == b"def\n"


def test_read_gives_what_has_arrived(client):
    """read() (and read(n)) waits for at least one byte, then gives what
    has arrived, up to 8192 bytes without a length (3.5)."""
    c = client()
    c.send(b"!read\nxyz")
    assert c.line() == b"3:xyz\n"
    c.send(b"!read 100000\n" + b"q" * 5)
    assert c.line() == b"5:qqqqq\n"
    c.send(b"!read\n" + b"z" * 20000 + b"\n")
    m = re.match(rb"(\d+):(z*)\n", c.line())
    n = int(m.group(1))
    assert 1 <= n <= 8192 and len(m.group(2)) == n
    rest = b"z" * (20000 - n) + b"\n"
    got = b""
    while len(got) < len(rest):
        got += c.line()
    assert got == rest


def test_read_minus_one_reads_until_the_client_closes(srv, client):
    c = client()
    data = bytes(range(256)) * 1000
    c.send(b"!read -1\n" + data)
    c.sock.shutdown(socket.SHUT_WR)
    head = b"%d:" % len(data)
    assert c.exactly(len(head) + len(data) + 1) == head + data + b"\n"
    assert c.closed_by_server()


def test_readline_with_a_limit_keeps_the_rest(client):
    c = client()
    c.send(b"!readline 4\nabcdefgh\n")
    assert c.line() == b"4:abcd\n"
    assert c.line() == b"efgh\n"
    c.send(b"!readline 100\nshort\nnext\n")
    assert c.line() + c.line() == b"6:short\n\n"   # the line, its newline included
    assert c.line() == b"next\n"


def test_write_takes_bytes_or_str(client):
    assert client().ask(b"!badwrite\n") == (b"write() argument must be str or a "
                                            b"bytes-like object, not int\n")


def test_write_to_a_gone_client_raises(srv, client):
    c = client()
    c.send(b"!flood\n")
    c.close()
    assert wait_for(lambda: re.search(r"echo: write \d+ failed: Write failed, client "
                                      r"closed connection\.", srv.log()), timeout=20)


def test_write_str_goes_out_as_utf8(client):
    c = client()
    assert c.ask("!str hé ☃\n".encode()) == "hé ☃\n".encode()


# ------------------------------------------------------------ the object

def test_connection_attributes_and_hlist(srv, client):
    c = client()
    d = json.loads(c.ask(b"!info\n"))
    assert d["client_ip"] == "127.0.0.1"
    assert d["local_port"] == srv.port2
    assert d["remote_port"] == c.sock.getsockname()[1]
    assert d["server"] == "echo.test" and d["interpreter"] == "echo.test"
    assert (d["handler"], d["directory"], d["is_location"], d["silent"]) == \
        ("echo", None, 0, 0)
    assert d["notes"] == {"seen": "yes"}
    assert d["aborted"] is False and d["keepalives"] == 0
    assert d["mpm"] == srv.mpm


def test_connection_used_from_another_thread(client):
    c = client()
    assert c.ask(b"!thread\n") == (b"the connection can only be used from the thread "
                                   b"serving it (not from another thread)\n")


def test_connection_kept_after_the_handler(srv, client):
    c = client()
    assert c.ask(b"!later\n") == b"ok\n"
    assert c.closed_by_server()
    for what in ("read", "write", "notes"):
        assert wait_for(lambda: "echo: kept %s: the connection is over" % what in srv.log())


def test_request_connection_has_no_raw_io(srv):
    r = srv.get("/app/raw/x")
    assert r.status == 200
    assert r.text.splitlines() == [
        "connection read(), readline() and write() are for connection handlers "
        "(PythonConnectionHandler); a request has req.read() and req.write()"] * 3


# ------------------------------------------------------------ results, errors

def test_handler_that_raises_is_logged_and_closed(srv, client):
    before = log_count(srv, "ValueError: raised on purpose")
    c = client()
    assert c.ask(b"before\n") == b"before\n"
    c.send(b"!raise\n")
    assert c.closed_by_server()
    assert wait_for(lambda: log_count(srv, "ValueError: raised on purpose") > before)
    log = srv.log()
    assert "MP00030: PythonConnectionHandler echo: Traceback (most recent call last):" in log
    assert re.search(r"MP00030: PythonConnectionHandler echo: .*File \".*/echo\.py\", "
                     r"line \d+, in command", log)
    assert client().ask(b"after\n") == b"after\n"


@pytest.mark.parametrize("what,logged", [
    (b"500", "returned 500, not apache.OK"),
    (b"str", "returned str, not apache.OK"),
    (b"done", None),
])
def test_handler_results(srv, client, what, logged):
    before = log_count(srv, logged) if logged else 0
    c = client()
    c.send(b"!return " + what + b"\n")
    assert c.closed_by_server()
    if logged:
        assert wait_for(lambda: log_count(srv, logged) > before)
        assert "MP00031: PythonConnectionHandler echo " + logged in srv.log()
    assert client().ask(b"fine\n") == b"fine\n"


def test_declined_connection_is_served_by_http(srv):
    """Class.method by file: Proto(conn).decline(conn) returns DECLINED,
    and HTTP serves the connection, keep-alive included."""
    conn = http.client.HTTPConnection("127.0.0.2", srv.port2, timeout=15)
    try:
        for _ in range(3):
            conn.request("GET", "/app/x")
            r = conn.getresponse()
            assert r.status == 200 and r.read().startswith(b"hello from /app/x")
    finally:
        conn.close()
    assert wait_for(lambda: "other: declined %s/proto/other.py::Proto.decline in "
                            "decline.test" % srv.root in srv.log())


def banner(srv):
    c = Client(srv, "127.0.0.3")
    try:
        line = c.line()
        assert c.closed_by_server()
        return line
    finally:
        c.close()


def test_server_speaks_first_and_reloads_the_changed_handler(srv):
    """The handler runs as soon as the client connects (the listener has
    no AcceptFilter), and an edited handler file serves the next
    connection (PythonAutoReload, default On)."""
    path = srv.path("proto", "banner.py")
    assert banner(srv) == b"banner v1 from banner.test\n"
    text = open(path).read()
    try:
        with open(path, "w") as f:
            f.write(text.replace("VERSION = 1", "VERSION = 2"))
        assert wait_for(lambda: banner(srv) == b"banner v2 from banner.test\n")
    finally:
        with open(path, "w") as f:
            f.write(text)


def test_virtual_host_inherits_the_main_servers_handler(httpd_factory):
    """Set at server level, the handler serves every virtual host without
    its own, each in its own interpreter (its ServerName)."""
    h = httpd_factory("event")
    h.install_app("connection")
    h.config("""
        PythonConnectionHandler {root}/proto/banner.py
        Listen 127.0.0.1:{port2}
        <VirtualHost 127.0.0.1:{port2}>
            ServerName other.test
        </VirtualHost>
    """.format(root=h.root, port2=h.port2))
    h.start()
    for port, name in ((h.port, b"localhost"), (h.port2, b"other.test")):
        with socket.create_connection(("127.0.0.1", port), timeout=15) as s:
            s.sendall(b"hi\n")   # the main port's listener waits for data
            assert s.makefile("rb").readline() == b"banner v1 from " + name + b"\n"


# ------------------------------------------------------------ HTTP meanwhile

def test_http_keeps_alive_on_the_first_port(srv, client):
    """While connection handlers hold their workers, the first port serves
    HTTP: several requests, Python and static, on one connection."""
    idle = [client() for _ in range(3)]
    for i, c in enumerate(idle):
        assert c.ask(b"idle %d\n" % i) == b"idle %d\n" % i
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=15)
    try:
        ports = set()
        for _ in range(3):
            conn.request("GET", "/app/page")
            r = conn.getresponse()
            body = r.read()
            assert r.status == 200, body
            ports.add(int(re.match(rb"hello from /app/page to port (\d+)", body).group(1)))
            sock = conn.sock
            conn.request("GET", "/static/page.txt")
            r = conn.getresponse()
            assert r.status == 200 and r.read() == b"a static page\n"
            assert conn.sock is sock
        assert ports == {conn.sock.getsockname()[1]}   # one connection throughout
    finally:
        conn.close()
    for c in idle:
        assert c.ask(b"still\n") == b"still\n"


# ------------------------------------------------------------ stopping

@pytest.mark.parametrize("mpm", ["event", "worker", "prefork"])
def test_stop_ends_waiting_handlers(httpd_factory, mpm):
    """A stop does not wait for the reads of idle clients (Timeout 60
    here): under the event MPM, which closes the sockets of its
    connections, a handler's read is woken (child_stopping), so the child
    exits instead of being killed."""
    h = httpd_factory(mpm)
    h.config(h.install_app("connection").replace("Timeout 3", "Timeout 60"))
    h.start()
    clients = [Client(h) for _ in range(2)]
    try:
        for c in clients:
            assert c.ask(b"waiting\n") == b"waiting\n"
        t = time.time()
        h.stop()
        assert time.time() - t < 8
        assert "AH00046" not in h.log(), h.log()   # "sending a SIGKILL"
        for c in clients:
            assert c.closed_by_server()
    finally:
        for c in clients:
            c.close()


# ------------------------------------------------------------ configuration

BAD = [
    ("PythonConnectionHandler", "requires a module[::object]"),
    ("PythonConnectionHandler mod::", "invalid handler 'mod::'"),
    ("PythonConnectionHandler ::obj", "invalid handler"),
    ("PythonConnectionHandler a.b..c", "invalid handler"),
    ("PythonConnectionHandler one two", "takes one module[::object]"),
    ("PythonConnectionHandler mod | .py", "takes one module[::object]"),
]


@pytest.mark.parametrize("line,message", BAD)
def test_bad_directive_fails_configtest(httpd_factory, line, message):
    h = httpd_factory("event")
    h.config("# filler\n" + line + "\n")
    ok, out = h.configtest()
    assert not ok, out
    lineno = open(h.conf).read().splitlines().index(line) + 1
    assert "line %d" % lineno in out, out
    assert "PythonConnectionHandler" in out and message in out, out


@pytest.mark.parametrize("section", ["Directory /tmp", "Location /x"])
def test_refused_inside_a_section(httpd_factory, section):
    h = httpd_factory("event")
    h.config("<%s>\nPythonConnectionHandler echo\n</%s>\n" % (section, section.split()[0]))
    ok, out = h.configtest()
    assert not ok and "PythonConnectionHandler" in out and "not allowed" in out, out


def test_twice_for_one_server_is_refused(httpd_factory):
    h = httpd_factory("event")
    h.config("PythonConnectionHandler a\nPythonConnectionHandler b\n")
    ok, out = h.configtest()
    assert not ok and "line" in out and "already set for this server" in out, out


def test_good_forms_pass(httpd_factory):
    h = httpd_factory("event")
    h.config("""
        PythonConnectionHandler echo
        <VirtualHost 127.0.0.1:1>
            PythonConnectionHandler /abs/proto.py::Proto.handle
        </VirtualHost>
        <VirtualHost 127.0.0.1:2>
            PythonConnectionHandler pkg.mod::handler
        </VirtualHost>
    """)
    ok, out = h.configtest()
    assert ok, out
