"""The WS-Scan fault for every kind of error the scanner core reports.

Every ``ErrorKind`` has its fault here (a test checks that none is missing),
so a new kind cannot silently fall back to a generic one.
"""

from __future__ import annotations

from gateway.model import ErrorKind, ServiceError
from gateway.wsd import namespaces as ns
from gateway.wsd.soap import SoapFault, receiver_fault, sender_fault

FAULTS: dict[ErrorKind, tuple[str, str, str]] = {
    ErrorKind.CONFLICT: (ns.WSCN, "ClientErrorConflictingRequiredParameters", "Sender"),
    # The schema's fault list names it so (format.md's "ClientErrorDocumentFormatNotSupported" is not in it);
    # the Windows driver falls back to another format on it.
    ErrorKind.FORMAT: (ns.WSCN, "ClientErrorFormatNotSupported", "Sender"),
    ErrorKind.INVALID: (ns.WSCN, "InvalidArgs", "Sender"),
    ErrorKind.NO_IMAGES: (ns.WSCN, "ClientErrorNoImagesAvailable", "Sender"),
    ErrorKind.BUSY: (ns.WSCN, "ServerErrorNotAcceptingJobs", "Receiver"),
    ErrorKind.NOT_FOUND: (ns.WSCN, "ClientErrorJobIdNotFound", "Sender"),
    ErrorKind.BAD_TOKEN: (ns.WSCN, "ClientErrorInvalidJobToken", "Sender"),
    ErrorKind.CANCELLED: (ns.WSCN, "ClientErrorJobCancelled", "Sender"),
    ErrorKind.DEVICE: (ns.WSCN, "OperationFailed", "Receiver"),
}


def fault_for(error: ServiceError) -> SoapFault:
    namespace, name, code = FAULTS[error.kind]
    make = sender_fault if code == "Sender" else receiver_fault
    return make(namespace, name, error.reason)
