"""A uevent sent the way udevd rebroadcasts one, for hotplug tests: the one fake at the OS boundary.

No USB device can be plugged into a test machine (this one's kernel has no USB
at all), but a process listening to udev cannot tell udevd's broadcast from
ours: both are a netlink message to the kernel's uevent group 2, in libudev's
own layout (a header with hashes for the in-kernel filter, then the
``KEY=value`` properties), from a sender whose credentials say root.

Send only inside a network namespace a test created: udev's group is per
namespace, and in the host's namespace every udev listener (systemd among
them) would take the fake device for real. Run as ``python uevents.py
KEY=value ...`` (inside ``ip netns exec``), or call ``send_udev_event``.
"""

from __future__ import annotations

import socket
import struct
import sys
from collections.abc import Mapping

NETLINK_KOBJECT_UEVENT = 15
UDEV_GROUP = 2
"""Netlink multicast group (as a mask) udevd sends its processed events to; 1 is the kernel's."""
LIBUDEV_MAGIC = 0xFEEDCAFE
HEADER = struct.Struct("=8sIIIIIIII")
"""prefix, magic (big-endian), header size, properties offset and length (host order), subsystem and
devtype hashes and the two tag-bloom words (big-endian)."""

_seqnum = 1000


def murmur2(data: bytes, seed: int = 0) -> int:
    """MurmurHash2, 32 bits: libudev's filter compares the hash of the subsystem and device type."""
    m, mask = 0x5BD1E995, 0xFFFFFFFF
    h = (seed ^ len(data)) & mask
    whole = len(data) - len(data) % 4
    for (k,) in struct.iter_unpack("<I", data[:whole]):
        k = (k * m) & mask
        k ^= k >> 24
        k = (k * m) & mask
        h = ((h * m) & mask) ^ k
    tail = data[whole:]
    if tail:
        for i, byte in enumerate(tail):
            h ^= byte << (8 * i)
        h = (h * m) & mask
    h ^= h >> 13
    h = (h * m) & mask
    h ^= h >> 15
    return h


def udev_message(properties: Mapping[str, str]) -> bytes:
    """The bytes of one udev broadcast carrying ``properties`` (ACTION, DEVPATH, SUBSYSTEM are needed)."""
    global _seqnum
    props = dict(properties)
    if "SEQNUM" not in props:
        _seqnum += 1
        props["SEQNUM"] = str(_seqnum)
    body = b"".join(f"{k}={v}".encode() + b"\0" for k, v in props.items())
    subsystem = murmur2(props.get("SUBSYSTEM", "").encode())
    devtype = murmur2(props["DEVTYPE"].encode()) if props.get("DEVTYPE") else 0
    header = HEADER.pack(b"libudev\0", socket.htonl(LIBUDEV_MAGIC), HEADER.size, HEADER.size, len(body),
                         socket.htonl(subsystem), socket.htonl(devtype), 0, 0)
    return header + body


def send_udev_event(properties: Mapping[str, str]) -> None:
    """Broadcast the event to this network namespace's udev listeners (needs root: CAP_NET_ADMIN)."""
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_KOBJECT_UEVENT) as sock:
        sock.bind((0, 0))
        sock.sendto(udev_message(properties), (0, UDEV_GROUP))


def usb_device_properties(action: str, port_path: str = "1-1.2", *, vendor: str = "04a9", product: str = "1909",
                          serial: str | None = None, busnum: int = 1, devnum: int = 4,
                          scanner: bool = True) -> dict[str, str]:
    """What udevd broadcasts for a USB scanner (a CanoScan LiDE 110 by default) plugged into ``port_path``."""
    props = {
        "ACTION": action,
        "DEVPATH": f"/devices/pci0000:00/0000:00:14.0/usb{busnum}/{port_path}",
        "SUBSYSTEM": "usb",
        "DEVTYPE": "usb_device",
        "DEVNAME": f"/dev/bus/usb/{busnum:03d}/{devnum:03d}",
        "BUSNUM": f"{busnum:03d}",
        "DEVNUM": f"{devnum:03d}",
        "PRODUCT": f"{int(vendor, 16):x}/{int(product, 16):x}/100",
        "ID_VENDOR_ID": vendor,
        "ID_MODEL_ID": product,
        "ID_BUS": "usb",
    }
    if serial:
        props["ID_SERIAL_SHORT"] = serial
    if scanner:
        props["libsane_matched"] = "yes"
    return props


if __name__ == "__main__":
    send_udev_event(dict(arg.split("=", 1) for arg in sys.argv[1:]))
