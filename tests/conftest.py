"""Fixtures shared by the suites: the real gateway in a subprocess, serving SANE's test device."""

from __future__ import annotations

import pytest

from tests.support.gateway_process import GatewayProcess


@pytest.fixture(scope="module")
def gateway(tmp_path_factory):
    """One gateway per test module (state is per job, and each test makes its own jobs)."""
    with GatewayProcess(tmp_path_factory.mktemp("gateway")) as gw:
        yield gw


@pytest.fixture
def fresh_gateway(tmp_path):
    with GatewayProcess(tmp_path) as gw:
        yield gw
