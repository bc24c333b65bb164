"""Files in the state directory: written whole or not at all, and never thrown away unread.

A Pi's SD card fills up and loses power. A state file is therefore written
to a temporary file beside it, flushed to the card and renamed over the old
one: after a full disk or a power cut the old file or the new one is there,
never a truncated mix. A file that cannot be read as what it should be is
moved aside, not overwritten, and the log says where it went.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import time
from pathlib import Path

from twisted.logger import Logger

log = Logger()


class StateFileError(Exception):
    """A state file that cannot be read or written; the message says which and how to fix it."""


def write_atomic(path: Path, data: bytes | str, mode: int = 0o600) -> None:
    """Replace ``path`` with ``data`` (temporary file in the same directory, fsync, rename).

    Raises ``StateFileError`` (the old file untouched, no temporary file left) if it cannot.
    """
    path = Path(path)
    raw = data.encode() if isinstance(data, str) else data
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "wb") as f:
            os.fchmod(f.fileno(), mode)
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        tmp = None
        _fsync_directory(path.parent)
    except OSError as e:
        raise StateFileError(f"cannot write {path}: {e.strerror or e}") from e
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def write_if_changed(path: Path, data: bytes | str, mode: int = 0o600) -> bool:
    """``write_atomic`` unless the file already holds ``data`` (no write at all: a full card still starts)."""
    raw = data.encode() if isinstance(data, str) else data
    try:
        if Path(path).read_bytes() == raw:
            return False
    except OSError:
        pass
    write_atomic(path, raw, mode)
    return True


def _fsync_directory(directory: Path) -> None:
    """Make the rename itself durable."""
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def keep_aside(path: Path, why: str, consequence: str) -> Path:
    """Rename an unreadable state file to ``NAME.corrupt-TIMESTAMP`` and log where it went."""
    path = Path(path)
    aside = path.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}")
    n = 1
    while aside.exists():
        n += 1
        aside = aside.with_name(f"{path.name}.corrupt-{time.strftime('%Y%m%d-%H%M%S')}-{n}")
    try:
        os.replace(path, aside)
    except OSError as e:
        raise StateFileError(f"{path} {why}, and it cannot be moved aside ({e.strerror or e}): "
                             f"move or repair it by hand") from e
    log.error("{path} {why}: kept it as {aside} and started anew; {consequence}",
              path=str(path), why=why, aside=str(aside), consequence=consequence)
    return aside


def read_json_mapping(path: Path, consequence: str) -> dict:
    """The JSON object in ``path``; {} if there is none yet. Anything else is kept aside, never lost.

    ``consequence`` tells the reader of the log what starting anew costs.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return {}
    except OSError as e:
        raise StateFileError(f"cannot read {path}: {e.strerror or e}") from e
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        value = None
    if not isinstance(value, dict):
        keep_aside(path, "is empty" if not raw.strip() else "is not a JSON object", consequence)
        return {}
    return value


def write_json(path: Path, value: dict) -> None:
    write_atomic(path, json.dumps(value, indent=2, sort_keys=True) + "\n", 0o600)


class JsonStateFile:
    """A small mapping kept as one JSON file in the state directory, replaced atomically.

    A file that is not a JSON object is kept aside (``NAME.corrupt-TIME``), never
    silently replaced. A change that cannot be saved (a full disk) is logged, kept
    in memory, and saved with the next change.
    """

    filename = ""
    lost = "its contents start anew"

    def __init__(self, state_dir: Path):
        self.path = Path(state_dir) / self.filename
        self._map = read_json_mapping(self.path, self.lost)
        self.unsaved = False

    def _save(self) -> None:
        try:
            write_json(self.path, self._map)
            self.unsaved = False
        except StateFileError as e:
            self.unsaved = True
            log.error("{error}; kept in memory only until it can be saved", error=e)
