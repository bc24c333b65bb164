"""Every kind of error the scanner core reports has its own WS-Scan fault."""

import pytest

from gateway.model import ErrorKind, ServiceError
from gateway.wsd.faults import FAULTS, fault_for


def test_every_error_kind_has_a_fault():
    assert set(FAULTS) == set(ErrorKind)


@pytest.mark.parametrize("kind", list(ErrorKind))
def test_a_fault_carries_the_reason_and_its_side(kind):
    fault = fault_for(ServiceError(kind, "because"))
    assert fault.reason == "because"
    assert fault.code == FAULTS[kind][2] and fault.subcode.endswith("}" + FAULTS[kind][1])


def test_a_kind_that_is_no_error_kind_is_refused_at_once():
    with pytest.raises(ValueError):
        ServiceError("busy-ish", "no such kind")
