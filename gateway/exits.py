"""The exit statuses of ``sane-wsd-gateway``, defined once: --help prints this table; README and the man page
list the same (a test compares them)."""

from __future__ import annotations

import enum


class ExitStatus(enum.IntEnum):
    """Each status with what it means, in the words --help prints."""

    def __new__(cls, value: int, meaning: str):
        member = int.__new__(cls, value)
        member._value_ = value
        member.meaning = meaning
        return member

    OK = 0, "run stopped by SIGTERM or SIGINT; list done (also when its reader stops early); push accepted"
    FAILED = 1, "run could not start for another reason (see the log); list failed; push refused"
    USAGE = 2, "the command line or the config file is wrong (the message names the file and line)"
    NO_SUCH_INTERFACE = 3, "an interface named by --interface or interfaces = does not exist"
    CANNOT_LISTEN = 4, "the TCP port is in use by another program, or not allowed for this user"
    STATE_DIR = 5, "the state directory cannot be created or written"


class StartError(Exception):
    """The gateway cannot start: one line for the log, and the exit status that says why."""

    def __init__(self, status: ExitStatus, message: str):
        super().__init__(message)
        self.status = status
