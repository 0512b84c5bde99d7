"""The error log: every line mod_python writes itself starts with its
message id (src/base/mp_logno.h), and lines about a request carry that
request's context (the client)."""
import os
import re

import pytest

from harness import ROOT, Httpd, one_child, wait_for


@pytest.fixture(scope="module")
def srv():
    h = Httpd("event")
    try:
        h.config(h.install_app("logging"), mpm_settings=one_child("event"))
        h.start()
        yield h
    finally:
        h.cleanup()


def lines_with(log, text):
    return [l for l in log.splitlines() if text in l]


def test_handler_traceback_lines_carry_their_id_and_client(srv):
    assert srv.get("/app/x").status == 500
    log = srv.log()
    lines = lines_with(log, "PythonHandler fails: ")
    assert len(lines) >= 3, log[-2000:]           # Traceback, frames, error
    for l in lines:
        assert "MP00010: PythonHandler fails: " in l, l
        assert "[client 127.0.0.1:" in l, l
    assert any("RuntimeError: handler failed on purpose" in l for l in lines), lines


def test_importer_lines_carry_their_id_and_client(srv):
    assert srv.get("/app/x").status == 500
    lines = lines_with(srv.log(), "mod_python (pid=")
    assert lines, srv.log()[-2000:]
    for l in lines:
        assert re.search(r"MP00013: mod_python \(pid=\d+, interpreter='localhost'\)", l), l
        assert "[client 127.0.0.1:" in l, l


def test_cleanup_callable_failure_has_its_id(srv):
    r = srv.get("/app/cleanup")
    assert r.status == 200 and r.body == b"ok"
    assert wait_for(lambda: lines_with(srv.log(), "cleanup failed on purpose")), \
        srv.log()[-2000:]
    for l in lines_with(srv.log(), "register_cleanup callable"):
        assert "MP00015: register_cleanup callable: " in l, l


def test_ids_are_the_listed_ones_and_unique(srv):
    """The ids in the log are those mp_logno.h lists, one message each."""
    srv.get("/app/x")
    with open(os.path.join(ROOT, "src", "base", "mp_logno.h")) as f:
        listed = re.findall(r'MPLOGNO\((\d{5})\)', f.read())
    assert len(listed) == len(set(listed)), "an id names two messages"
    seen = set(re.findall(r"\bMP(\d{5}): ", srv.log()))
    assert seen and seen <= set(listed), (seen, listed)
