"""State files: replaced whole, kept aside when damaged, never rewritten for nothing."""

import pytest

from gateway.statefiles import StateFileError, read_json_mapping, write_atomic, write_if_changed, write_json


def test_write_atomic_replaces_the_file_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "x.json"
    path.write_text("old")
    write_atomic(path, "new", 0o600)
    assert path.read_text() == "new"
    assert path.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]


def test_a_write_that_cannot_be_made_says_which_file(tmp_path):
    (tmp_path / "not-a-dir").write_text("")
    with pytest.raises(StateFileError, match="cannot write .*not-a-dir/x.json"):
        write_atomic(tmp_path / "not-a-dir" / "x.json", "new")


def test_write_if_changed_does_not_touch_a_file_that_already_holds_the_data(tmp_path):
    path = tmp_path / "dll.conf"
    assert write_if_changed(path, "test\n")
    before = path.stat().st_ino
    assert not write_if_changed(path, "test\n")
    assert path.stat().st_ino == before
    assert write_if_changed(path, "net\n") and path.read_text() == "net\n"


def test_a_missing_mapping_is_empty(tmp_path):
    assert read_json_mapping(tmp_path / "none.json", "nothing lost") == {}


@pytest.mark.parametrize("damaged", [b"", b"{\"a\": ", b"[1, 2]", b"\xff\xfe"])
def test_a_damaged_mapping_is_kept_aside_not_lost(tmp_path, damaged):
    path = tmp_path / "devices.json"
    path.write_bytes(damaged)
    assert read_json_mapping(path, "every scanner gets a new UUID") == {}
    [aside] = list(tmp_path.glob("devices.json.corrupt-*"))
    assert aside.read_bytes() == damaged and not path.exists()


def test_a_mapping_reads_back(tmp_path):
    write_json(tmp_path / "m.json", {"b": 1, "a": {"c": "d"}})
    assert read_json_mapping(tmp_path / "m.json", "") == {"a": {"c": "d"}, "b": 1}
