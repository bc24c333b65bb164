"""The house rules of README.rst "How it is built", checked on the source: which part may import which.

The protocol front ends (wsd/, escl/), the scanner core (scanner/) and the
encoder (imaging/) never import each other; app.py (and the bridge
frames_to_files.py) connects them. The core and the encoder import no
front end; the web pages get typed snapshots and import none of them; the
values and helpers every part may use (``SHARED``: model.py, scanner_api.py, pipe.py, image_response.py,
untrusted_xml.py, icon.py, ...) import none.
"""

import ast
from pathlib import Path

import pytest

GATEWAY = Path(__file__).resolve().parents[2] / "gateway"
PARTS = ("wsd", "escl", "scanner", "imaging", "web")
SHARED = ("model", "scanner_api", "pipe", "image_response", "addresses", "activity", "icon", "announce",
          "untrusted_xml", "http_origin", "scanner_paths", "statefiles", "netpolicy", "connections", "reach",
          "exits", "journal")

MAY_NOT_IMPORT = {
    "wsd": {"escl", "scanner", "imaging", "web"},
    "escl": {"wsd", "scanner", "imaging", "web"},
    "scanner": {"wsd", "escl", "imaging", "web"},
    "imaging": {"wsd", "escl", "scanner", "web"},
    "web": {"wsd", "escl", "scanner", "imaging"},
    **{name: set(PARTS) for name in SHARED},
}


def part_of(path: Path, root: Path = GATEWAY) -> str | None:
    relative = path.relative_to(root)
    head = relative.parts[0]
    if len(relative.parts) > 1:
        return head if head in PARTS else None
    return relative.stem if relative.stem in SHARED else None


def imported_parts(path: Path) -> set[tuple[str, int]]:
    """The gateway parts a module imports (absolute imports; a relative one stays inside its package)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        for name in names:
            parts = name.split(".")
            if parts[0] == "gateway" and len(parts) > 1:
                found.add((parts[1], node.lineno))
    return found


MODULES = sorted(p for p in GATEWAY.rglob("*.py") if part_of(p) is not None)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(GATEWAY)))
def test_a_part_imports_only_what_the_layout_allows(path):
    part = part_of(path)
    wrong = sorted((name, line) for name, line in imported_parts(path) if name in MAY_NOT_IMPORT[part])
    assert not wrong, f"{path.relative_to(GATEWAY)} ({part}) imports " + ", ".join(
        f"gateway.{name} (line {line})" for name, line in wrong)


def test_the_rule_sees_a_forbidden_import(tmp_path):
    module = tmp_path / "gateway" / "wsd" / "bad.py"
    module.parent.mkdir(parents=True)
    module.write_text("from gateway.scanner.jobs import JobTable\nimport gateway.imaging\n")
    assert part_of(module, tmp_path / "gateway") == "wsd"
    assert {name for name, _line in imported_parts(module)} == {"scanner", "imaging"}


def test_every_part_of_the_layout_is_checked():
    checked = {part_of(p) for p in MODULES}
    assert {"wsd", "scanner", "imaging", "web", *SHARED} <= checked
