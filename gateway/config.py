"""etc/sane-wsd-gateway.conf (INI) -> typed settings; command-line flags override the file."""

from __future__ import annotations

import configparser
import fnmatch
import socket
from dataclasses import dataclass, field, replace
from pathlib import Path

from gateway.addresses import parse_networks

DEFAULT_PORT = 8765
"""Not 5357: wsdd (Samba's WS-Discovery daemon) owns that port on many hosts."""
DEFAULT_CONFIG = Path("/etc/sane-wsd-gateway.conf")
LOG_LEVELS = ("debug", "info", "warn", "error")
IMAGE_TRANSFERS = ("chunked", "length")
"""How RetrieveImage sends the image: streamed while scanning (chunked), or spooled and sent with a length."""
USB_HOTPLUG = ("auto", "udev", "kernel", "off")
"""Where USB plug events come from: auto (udev where udevd runs, else the kernel's), udev, kernel, or off
(scanners are found at start only)."""


class ConfigError(Exception):
    pass


@dataclass(frozen=True)
class ScannerOverride:
    pattern: str
    name: str | None = None
    location: str | None = None
    info: str | None = None
    enabled: bool = True


@dataclass(frozen=True)
class Settings:
    port: int = DEFAULT_PORT
    interfaces: tuple[str, ...] = ()
    friendly_name: str = "{vendor} {model} on {host}"
    state_dir: Path = Path("/var/lib/sane-wsd-gateway")
    log_level: str = "info"
    test_device: str = "auto"
    backends: tuple[str, ...] = ()
    discovery: bool = True
    ipv6: bool = True
    allowed_networks: tuple[str, ...] = ()
    push_destination: str = ""
    button_poll_interval: float = 1.0
    device_timeout: float = 90.0
    location: str = ""
    image_transfer: str = "chunked"
    usb_hotplug: str = "auto"
    scanners: tuple[ScannerOverride, ...] = field(default_factory=tuple)

    def override_for(self, sane_name: str) -> ScannerOverride | None:
        return next((o for o in self.scanners if fnmatch.fnmatch(sane_name, o.pattern)), None)

    def friendly(self, sane_name: str, vendor: str, model: str) -> str:
        o = self.override_for(sane_name)
        if o and o.name:
            return o.name
        return self.friendly_name.format(vendor=vendor, model=model, host=socket.gethostname(), device=sane_name)


def _split(value: str) -> tuple[str, ...]:
    return tuple(v for v in value.replace(",", " ").split() if v)


def load(path: Path | None) -> Settings:
    """Read the file (a missing default file means defaults); raise ConfigError with the bad line's meaning."""
    parser = configparser.ConfigParser(interpolation=None)
    if path is not None:
        try:
            with open(path) as f:
                parser.read_file(f)
        except FileNotFoundError:
            if path != DEFAULT_CONFIG:
                raise ConfigError(f"{path}: no such file") from None
        except configparser.Error as e:
            raise ConfigError(f"{path}: {e}") from None
    g = parser["gateway"] if parser.has_section("gateway") else {}
    try:
        settings = Settings(
            port=int(g.get("port", DEFAULT_PORT)),
            interfaces=_split(g.get("interfaces", "")),
            friendly_name=g.get("friendly_name", Settings.friendly_name),
            state_dir=Path(g.get("state_dir", str(Settings.state_dir))),
            log_level=g.get("log_level", "info").lower(),
            test_device=g.get("test_device", "auto").lower(),
            backends=_split(g.get("backends", "")),
            discovery=_bool(g.get("discovery", "yes")),
            ipv6=_bool(g.get("ipv6", "yes")),
            allowed_networks=_networks(g.get("allowed_networks", "")),
            push_destination=g.get("push_destination", ""),
            button_poll_interval=float(g.get("button_poll_interval", 1.0)),
            device_timeout=float(g.get("device_timeout", Settings.device_timeout)),
            location=g.get("location", ""),
            image_transfer=g.get("image_transfer", "chunked").strip().lower(),
            usb_hotplug=g.get("usb_hotplug", "auto").strip().lower(),
            scanners=tuple(
                ScannerOverride(
                    pattern=section.split(":", 1)[1].strip(),
                    name=parser[section].get("name"),
                    location=parser[section].get("location"),
                    info=parser[section].get("info"),
                    enabled=_bool(parser[section].get("enabled", "yes")),
                )
                for section in parser.sections() if section.startswith("scanner:")
            ),
        )
    except ValueError as e:
        raise ConfigError(f"{path}: {e}") from None
    return validate(settings)


def _networks(value: str) -> tuple[str, ...]:
    networks = _split(value)
    parse_networks(networks)
    return networks


def _bool(value: str) -> bool:
    lower = str(value).strip().lower()
    if lower in ("1", "yes", "true", "on"):
        return True
    if lower in ("0", "no", "false", "off"):
        return False
    raise ValueError(f"{value!r} is not yes or no")


def validate(s: Settings) -> Settings:
    if not 1 <= s.port <= 65535:
        raise ConfigError(f"port {s.port} is not a TCP port")
    if s.port == 5357:
        raise ConfigError("port 5357 belongs to wsdd on Samba hosts: choose another")
    if s.log_level not in LOG_LEVELS:
        raise ConfigError(f"log_level must be one of {', '.join(LOG_LEVELS)}")
    try:
        s.friendly_name.format(vendor="", model="", host="", device="")
    except (KeyError, IndexError, ValueError) as e:
        raise ConfigError(f"friendly_name may use {{vendor}}, {{model}}, {{host}} and {{device}}, not {e}") from None
    if not s.device_timeout > 0:
        raise ConfigError("device_timeout must be a number of seconds above 0")
    if s.test_device not in ("auto", "yes", "no"):
        raise ConfigError("test_device must be auto, yes or no")
    if s.image_transfer not in IMAGE_TRANSFERS:
        raise ConfigError(f"image_transfer must be chunked (stream while scanning) or length (send the whole "
                          f"image with a Content-Length), not {s.image_transfer!r}")
    if s.usb_hotplug not in USB_HOTPLUG:
        raise ConfigError(f"usb_hotplug must be auto, udev, kernel or off (scanners found at start only), "
                          f"not {s.usb_hotplug!r}")
    return s


def with_flags(s: Settings, **flags) -> Settings:
    """Command-line values (None = not given) over the file's."""
    given = {k: v for k, v in flags.items() if v is not None}
    return validate(replace(s, **given))
