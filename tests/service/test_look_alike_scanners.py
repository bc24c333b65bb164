"""Two scanners of one model (SANE's test:0 and test:1) on the real gateway: told apart, and the same after a restart."""

import re

from tests.support.gateway_process import GatewayProcess

SERVING = re.compile(r"serving (test:\d) \(.*?\) as '(.*?)' at /([0-9a-f-]{36})")


def served(gw: GatewayProcess) -> dict[str, tuple[str, str]]:
    """SANE name -> (friendly name, UUID), from the gateway's log."""
    return {device: (name, uuid) for device, name, uuid in SERVING.findall(gw.log())}


def test_look_alike_scanners_get_distinct_names_and_uuids(tmp_path):
    with GatewayProcess(tmp_path) as gw:
        first = served(gw)
    assert set(first) == {"test:0", "test:1"}, gw.log()[-2000:]
    (name0, uuid0), (name1, uuid1) = first["test:0"], first["test:1"]
    assert name1 == f"{name0} (2)" and uuid0 != uuid1


def test_look_alike_scanners_keep_their_names_and_uuids_across_a_restart(tmp_path):
    with GatewayProcess(tmp_path) as gw:
        first = served(gw)
    with GatewayProcess(tmp_path) as gw:
        again = served(gw)
    assert again == first and len(first) == 2
