"""Fixtures: real httpd instances started from the build tree."""
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(__file__))
from harness import Httpd  # noqa: E402

MPMS = [m for m in os.environ.get("MP_TEST_MPMS", "prefork worker event").split()]


@pytest.fixture
def httpd_factory():
    """Make servers; every one is stopped (by its pid file) at the end."""
    made = []

    def make(mpm="event"):
        h = Httpd(mpm)
        made.append(h)
        return h

    yield make
    errors = []
    for h in made:
        try:
            h.cleanup()
        except Exception as e:  # keep stopping the others
            errors.append(e)
    if errors:
        raise errors[0]


def pytest_report_header(config):
    return "mod_python integration tests, MPMs: %s" % " ".join(MPMS)
