"""Log lines for journald and the sd_notify datagram, on real streams and a real AF_UNIX socket."""

import os
import socket

import pytest
from twisted.logger import LogLevel
from twisted.python.failure import Failure

from gateway.journal import journal_line, notify, under_journal


def event(level, text="scanner {name} gone", **more):
    return {"log_level": level, "log_format": text, "log_namespace": "gateway.app", "log_time": 0.0,
            "name": "Office", **more}


@pytest.mark.parametrize("level, priority", [(LogLevel.critical, 2), (LogLevel.error, 3), (LogLevel.warn, 4),
                                             (LogLevel.info, 6), (LogLevel.debug, 7)])
def test_each_level_is_its_syslog_priority(level, priority):
    assert journal_line(event(level)) == f"<{priority}>[gateway.app#{level.name}] scanner Office gone\n"


def test_every_line_of_a_traceback_keeps_the_priority():
    try:
        raise ValueError("bad")
    except ValueError:
        failure = Failure()
    lines = journal_line(event(LogLevel.critical, "start failed", log_failure=failure)).splitlines()
    assert len(lines) > 2 and all(line.startswith("<2>") for line in lines) and "ValueError: bad" in lines[-1]


def test_the_journal_is_recognised_by_the_device_and_inode_of_the_stream(tmp_path):
    with open(tmp_path / "out", "w") as stream, open(tmp_path / "other", "w") as other:
        found = os.fstat(stream.fileno())
        environ = {"JOURNAL_STREAM": f"{found.st_dev}:{found.st_ino}"}
        assert under_journal(stream, environ)
        assert not under_journal(other, environ)  # e.g. stdout redirected by a person under systemd
        assert not under_journal(stream, {})


def test_notify_sends_one_datagram_to_the_socket_named(tmp_path):
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.bind(str(tmp_path / "notify"))
        assert notify("READY=1", {"NOTIFY_SOCKET": str(tmp_path / "notify")})
        s.settimeout(5)
        assert s.recv(100) == b"READY=1"


def test_notify_reaches_an_abstract_socket(tmp_path):
    name = f"sane-wsd-gateway-test-{os.getpid()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.bind("\0" + name)
        assert notify("STOPPING=1", {"NOTIFY_SOCKET": "@" + name})
        s.settimeout(5)
        assert s.recv(100) == b"STOPPING=1"


def test_without_systemd_notify_does_nothing(tmp_path):
    assert not notify("READY=1", {})
    assert not notify("READY=1", {"NOTIFY_SOCKET": str(tmp_path / "gone")})
