"""The state directory survives a full disk and a damaged file: nothing half-written, nothing opened, nothing lost."""

import contextlib
import json
import os
import subprocess
import urllib.error
import urllib.request

import pytest

from gateway.web.push import MIN_TOKEN_LENGTH, TOKEN_FILE, TOKEN_HEADER
from tests.support.gateway_process import GatewayProcess


def push_status(gw, token: str | None) -> int:
    headers = {TOKEN_HEADER.decode(): token} if token is not None else {}
    request = urllib.request.Request(f"http://127.0.0.1:{gw.port}/push", data=b"scanner=test:0", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def test_an_empty_push_token_file_never_opens_push(tmp_path):
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / TOKEN_FILE).write_text("")
    with GatewayProcess(tmp_path) as gw:
        assert push_status(gw, None) == 403
        assert push_status(gw, "") == 403
        token = (gw.state / TOKEN_FILE).read_text().strip()
        assert len(token) >= MIN_TOKEN_LENGTH
        assert push_status(gw, token) == 404  # the token is good; no PC has registered a destination
        assert "push token" in gw.log() and "empty or too short" in gw.log()


def test_a_short_push_token_is_replaced(tmp_path):
    (tmp_path / "state").mkdir()
    (tmp_path / "state" / TOKEN_FILE).write_text("abc\n")
    with GatewayProcess(tmp_path) as gw:
        assert push_status(gw, "abc") == 403
        assert len((gw.state / TOKEN_FILE).read_text().strip()) >= MIN_TOKEN_LENGTH


def test_a_corrupt_devices_file_is_kept_aside_and_the_log_says_where(tmp_path):
    (tmp_path / "state").mkdir()
    damaged = b'{"sane:test:0": "0b7c3a52-1'  # cut short, as a power cut used to leave it
    (tmp_path / "state" / "devices.json").write_bytes(damaged)
    with GatewayProcess(tmp_path) as gw:
        [aside] = list(gw.state.glob("devices.json.corrupt-*"))
        assert aside.read_bytes() == damaged
        assert str(aside) in gw.log() and "new UUID" in gw.log()
        assert "sane:test:0" in json.loads((gw.state / "devices.json").read_text())


def test_state_files_are_only_readable_by_the_service(tmp_path):
    with GatewayProcess(tmp_path) as gw:
        for name in ("devices.json", "metadata.json", TOKEN_FILE):
            assert (gw.state / name).stat().st_mode & 0o077 == 0, name
        assert not [p for p in gw.state.rglob("*.tmp")]


@contextlib.contextmanager
def small_tmpfs(where, size="64k"):
    """A tiny tmpfs of our own at ``where``, unmounted whatever happens; skips where mounting is impossible."""
    where.mkdir(parents=True)
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where)],
                             capture_output=True, text=True, timeout=10)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], capture_output=True, timeout=10)


def fill(directory) -> None:
    with open(directory / "filler", "wb", buffering=0) as f:
        with contextlib.suppress(OSError):
            while True:
                f.write(b"\0" * 4096)


def test_a_full_state_directory_at_first_start_leaves_no_half_written_file_and_push_closed(tmp_path):
    with small_tmpfs(tmp_path / "state") as state:
        (state / "sane.d").mkdir()
        (state / "sane.d" / "test.conf").write_text("geometry_max 300.0\n")  # what the harness writes
        fill(state)
        with pytest.raises(RuntimeError) as failed:
            with GatewayProcess(tmp_path):
                pass
        assert "No space left on device" in str(failed.value) and "Traceback" not in str(failed.value)
        leftovers = [p.name for p in state.rglob("*") if p.is_file() and p.name not in ("filler", "test.conf")]
        assert leftovers == [], "a full disk left these files behind"

        (state / "filler").unlink()
        with GatewayProcess(tmp_path) as gw:
            assert push_status(gw, None) == 403
            assert len((state / TOKEN_FILE).read_text().strip()) >= MIN_TOKEN_LENGTH
