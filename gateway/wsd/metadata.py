"""DPWS metadata (the WS-Transfer GetResponse): ThisModel, ThisDevice, Relationship.

Windows installs its inbox WSD scan driver from this: the hosted service's
type and PnP-X compatible id say "scanner service".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lxml import etree

from gateway.statefiles import JsonStateFile
from gateway.wsd import namespaces as ns
from gateway.wsd.namespaces import qname


@dataclass(frozen=True)
class DeviceMetadata:
    endpoint: str  # urn:uuid:...
    friendly_name: str
    manufacturer: str
    model_name: str
    serial: str
    firmware: str
    manufacturer_url: str = "https://packages.debian.org/sane-wsd-gateway"
    model_number: str = ""


def hardware_id(manufacturer: str, model: str) -> str:
    """A PnP-X hardware id for the model: letters and digits only, as INF matching likes."""
    def clean(s: str) -> str:
        return re.sub(r"[^A-Za-z0-9]+", "_", s).strip("_").upper()[:32] or "UNKNOWN"
    return f"SANE_{clean(manufacturer)}_{clean(model)}"


def _sub(parent: etree._Element, namespace: str, local: str, text: str | None = None) -> etree._Element:
    el = etree.SubElement(parent, qname(namespace, local))
    if text is not None:
        el.text = text
    return el


def _section(metadata: etree._Element, dialect: str) -> etree._Element:
    section = _sub(metadata, ns.WSX, "MetadataSection")
    section.set("Dialect", dialect)
    return section


def _endpoint(parent: etree._Element, address: str) -> None:
    epr = _sub(parent, ns.WSA, "EndpointReference")
    _sub(epr, ns.WSA, "Address", address)


def get_response(meta: DeviceMetadata, presentation_url: str, service_url: str) -> etree._Element:
    """The wsx:Metadata body, with URLs on the address the client used to reach us."""
    m = etree.Element(qname(ns.WSX, "Metadata"), nsmap=ns.NSMAP)

    model = _sub(_section(m, ns.DIALECT_THIS_MODEL), ns.WSDP, "ThisModel")
    _sub(model, ns.WSDP, "Manufacturer", meta.manufacturer)
    _sub(model, ns.WSDP, "ManufacturerUrl", meta.manufacturer_url)
    _sub(model, ns.WSDP, "ModelName", meta.model_name)
    _sub(model, ns.WSDP, "ModelNumber", meta.model_number or meta.model_name)
    _sub(model, ns.WSDP, "PresentationUrl", presentation_url)
    _sub(model, ns.PNPX, "DeviceCategory", "Scanners")

    device = _sub(_section(m, ns.DIALECT_THIS_DEVICE), ns.WSDP, "ThisDevice")
    _sub(device, ns.WSDP, "FriendlyName", meta.friendly_name)
    _sub(device, ns.WSDP, "FirmwareVersion", meta.firmware)
    _sub(device, ns.WSDP, "SerialNumber", meta.serial)

    rel = _sub(_section(m, ns.DIALECT_RELATIONSHIP), ns.WSDP, "Relationship")
    rel.set("Type", ns.RELATIONSHIP_HOST)
    host = _sub(rel, ns.WSDP, "Host")
    _endpoint(host, meta.endpoint)
    _sub(host, ns.WSDP, "Types", "wsdp:Device wscn:ScanDeviceType")
    _sub(host, ns.WSDP, "ServiceId", meta.endpoint)
    hosted = _sub(rel, ns.WSDP, "Hosted")
    _endpoint(hosted, service_url)
    _sub(hosted, ns.WSDP, "Types", "wscn:ScannerServiceType")
    _sub(hosted, ns.WSDP, "ServiceId", f"{meta.endpoint}/scan")
    _sub(hosted, ns.PNPX, "HardwareId", hardware_id(meta.manufacturer, meta.model_name))
    _sub(hosted, ns.PNPX, "CompatibleId", ns.SCANNER_SERVICE_ID)
    return m


class MetadataVersions(JsonStateFile):
    """A counter per device that rises whenever what it tells clients about itself changes.

    WS-Discovery carries it as MetadataVersion, and Windows fetches the
    metadata again only when it rises, so it must survive restarts.
    """

    filename = "metadata.json"
    lost = "PCs fetch every scanner's description again"

    def version(self, uuid: str, fingerprint: str) -> int:
        entry = self._map.get(uuid)
        entry = entry if isinstance(entry, dict) and isinstance(entry.get("version"), int) else None
        if entry is None or entry.get("fingerprint") != fingerprint:
            entry = {"version": (entry or {}).get("version", 0) + 1, "fingerprint": fingerprint}
            self._map[uuid] = entry
            self._save()
        return entry["version"]
