"""Every XML namespace and action URI the gateway speaks, defined once.

The scan namespace is the one real devices and clients put on the wire
(``2006/08``), not the ``2006/01`` printed in Microsoft's reference pages.
"""

SOAP = "http://www.w3.org/2003/05/soap-envelope"
WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"
WSD = "http://schemas.xmlsoap.org/ws/2005/04/discovery"
WSDP = "http://schemas.xmlsoap.org/ws/2006/02/devprof"
WSE = "http://schemas.xmlsoap.org/ws/2004/08/eventing"
WSX = "http://schemas.xmlsoap.org/ws/2004/09/mex"
WST = "http://schemas.xmlsoap.org/ws/2004/09/transfer"
WSCN = "http://schemas.microsoft.com/windows/2006/08/wdp/scan"
PNPX = "http://schemas.microsoft.com/windows/pnpx/2005/10"
DF = "http://schemas.microsoft.com/windows/2008/09/devicefoundation"
XOP = "http://www.w3.org/2004/08/xop/include"
XML = "http://www.w3.org/XML/1998/namespace"

NSMAP = {
    "soap": SOAP,
    "wsa": WSA,
    "wsd": WSD,
    "wsdp": WSDP,
    "wse": WSE,
    "wsx": WSX,
    "wscn": WSCN,
    "pnpx": PNPX,
}


def qname(namespace: str, local: str) -> str:
    """Clark notation, as lxml wants it: ``{namespace}local``."""
    return f"{{{namespace}}}{local}"


# WS-Addressing
ANONYMOUS = WSA + "/role/anonymous"
FAULT_ACTION = WSA + "/fault"
DISCOVERY_URN = "urn:schemas-xmlsoap-org:ws:2005:04:discovery"

# WS-Discovery
HELLO_ACTION = WSD + "/Hello"
BYE_ACTION = WSD + "/Bye"
PROBE_ACTION = WSD + "/Probe"
PROBE_MATCHES_ACTION = WSD + "/ProbeMatches"
RESOLVE_ACTION = WSD + "/Resolve"
RESOLVE_MATCHES_ACTION = WSD + "/ResolveMatches"
MATCH_BY_RFC2396 = WSD + "/rfc2396"
"""The default Scopes matching rule of WS-Discovery 2005/04 (rfc3986 in 1.1, same algorithm)."""
MATCH_BY_RFC3986 = WSD + "/rfc3986"
MATCH_BY_UUID = WSD + "/uuid"
MATCH_BY_STRCMP0 = WSD + "/strcmp0"

# WS-Transfer / WS-MetadataExchange (DPWS)
GET_ACTION = WST + "/Get"
GET_RESPONSE_ACTION = WST + "/GetResponse"
DIALECT_THIS_MODEL = WSDP + "/ThisModel"
DIALECT_THIS_DEVICE = WSDP + "/ThisDevice"
DIALECT_RELATIONSHIP = WSDP + "/Relationship"
RELATIONSHIP_HOST = WSDP + "/host"

# WS-Eventing
SUBSCRIBE_ACTION = WSE + "/Subscribe"
SUBSCRIBE_RESPONSE_ACTION = WSE + "/SubscribeResponse"
RENEW_ACTION = WSE + "/Renew"
RENEW_RESPONSE_ACTION = WSE + "/RenewResponse"
GET_STATUS_ACTION = WSE + "/GetStatus"
GET_STATUS_RESPONSE_ACTION = WSE + "/GetStatusResponse"
UNSUBSCRIBE_ACTION = WSE + "/Unsubscribe"
UNSUBSCRIBE_RESPONSE_ACTION = WSE + "/UnsubscribeResponse"
SUBSCRIPTION_END_ACTION = WSE + "/SubscriptionEnd"
DPWS_ACTION_FILTER_DIALECT = WSDP + "/Action"

# Device and service types
DEVICE_TYPE = qname(WSDP, "Device")
SCAN_DEVICE_TYPE = qname(WSCN, "ScanDeviceType")
SCANNER_SERVICE_TYPE = qname(WSCN, "ScannerServiceType")
SCANNER_SERVICE_ID = WSCN + "/ScannerServiceType"

SCAN_OPERATIONS = (
    "GetScannerElements",
    "ValidateScanTicket",
    "CreateScanJob",
    "RetrieveImage",
    "CancelJob",
    "GetJobElements",
    "GetActiveJobs",
    "GetJobHistory",
)


SCAN_EVENTS = (
    "ScannerElementsChangeEvent",
    "ScannerStatusSummaryEvent",
    "ScannerStatusConditionEvent",
    "ScannerStatusConditionClearedEvent",
    "JobStatusEvent",
    "JobEndStateEvent",
    "ScanAvailableEvent",
)


def scan_action(operation: str) -> str:
    return f"{WSCN}/{operation}"


def scan_response_action(operation: str) -> str:
    return f"{WSCN}/{operation}Response"
