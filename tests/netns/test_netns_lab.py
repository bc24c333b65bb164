"""The lab helpers themselves: they must never leave namespaces behind."""

import subprocess

import pytest

from netns import PREFIX, clean_stale, pc_pi, unavailable_reason

pytestmark = [pytest.mark.netns,
              pytest.mark.skipif(unavailable_reason() is not None, reason=str(unavailable_reason()))]


def namespaces() -> set[str]:
    out = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, timeout=10, check=True).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()}


def test_lab_namespaces_are_removed_even_when_the_body_fails():
    with pytest.raises(RuntimeError):
        with pc_pi() as lab:
            names = {lab.pc, lab.pi}
            assert names <= namespaces()
            raise RuntimeError("the test failed")
    assert not names & namespaces()


def test_namespaces_of_a_run_whose_process_is_gone_are_removed():
    stale = f"{PREFIX}4194999-0-pc"
    subprocess.run(["ip", "netns", "add", stale], check=True, timeout=10)
    try:
        assert stale in clean_stale()
        assert stale not in namespaces()
    finally:
        subprocess.run(["ip", "netns", "del", stale], capture_output=True, timeout=10)


def test_run_in_runs_inside_the_namespace_with_its_veth_end_and_address(lab):
    links = lab.run_in(lab.pc, ["ip", "-o", "-4", "addr", "show"], timeout=10).stdout
    assert f"{lab.pc_if}" in links and f"{lab.pc_addr}/24" in links
    assert lab.pi_if not in links
