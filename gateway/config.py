"""etc/sane-wsd-gateway.conf (INI) -> typed settings; command-line flags override the file."""

from __future__ import annotations

import configparser
import difflib
import fnmatch
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

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
    escl: bool | None = None
    """Serve and announce this scanner over eSCL too (None: as the [gateway] ``escl`` says)."""


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
    escl: bool = True
    """Serve the scanners over eSCL (AirScan) beside WSD, announced by mDNS through avahi-daemon."""
    scanners: tuple[ScannerOverride, ...] = field(default_factory=tuple)

    def override_for(self, sane_name: str) -> ScannerOverride | None:
        return next((o for o in self.scanners if fnmatch.fnmatch(sane_name, o.pattern)), None)

    def friendly(self, sane_name: str, vendor: str, model: str) -> str:
        o = self.override_for(sane_name)
        if o and o.name:
            return o.name
        return self.friendly_name.format(vendor=vendor, model=model, host=socket.gethostname(), device=sane_name)

    def escl_for(self, sane_name: str) -> bool:
        """Whether this scanner is served over eSCL: its own section's ``escl``, else the gateway's."""
        o = self.override_for(sane_name)
        return self.escl if o is None or o.escl is None else o.escl


def _split(value: str) -> tuple[str, ...]:
    return tuple(v for v in value.replace(",", " ").split() if v)


def _networks(value: str) -> tuple[str, ...]:
    networks = _split(value)
    try:
        parse_networks(networks)
    except ValueError as e:
        raise ValueError(f"{e} (write networks like 10.1.0.0/16 or fd00::/8)") from None
    return networks


def _bool(value: str) -> bool:
    lower = str(value).strip().lower()
    if lower in ("1", "yes", "true", "on"):
        return True
    if lower in ("0", "no", "false", "off"):
        return False
    raise ValueError("not yes or no")


def _integer(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise ValueError("not a whole number") from None


def _number(value: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise ValueError("not a number") from None


def _word(value: str) -> str:
    return value.strip().lower()


def _friendly_name_ok(value: str) -> bool:
    try:
        value.format(vendor="", model="", host="", device="")
    except (KeyError, IndexError, ValueError):
        return False
    return True


@dataclass(frozen=True)
class Key:
    """One config key: how its text becomes a value, and which values are allowed (said in ``allowed``)."""

    parse: Callable[[str], Any] = str
    check: Callable[[Any], bool] = lambda _value: True
    allowed: str = ""


GATEWAY_KEYS: dict[str, Key] = {
    # key (= the Settings field)  how it is read, and what it may be
    "port": Key(_integer, lambda p: 1 <= p <= 65535 and p != 5357,
                "a TCP port from 1 to 65535, not 5357 (wsdd's port on Samba hosts)"),
    "interfaces": Key(_split),
    "friendly_name": Key(str, _friendly_name_ok, "text that may use {vendor}, {model}, {host} and {device}"),
    "state_dir": Key(Path),
    "log_level": Key(_word, lambda v: v in LOG_LEVELS, f"one of {', '.join(LOG_LEVELS)}"),
    "test_device": Key(_word, lambda v: v in ("auto", "yes", "no"), "auto, yes or no"),
    "backends": Key(_split),
    "discovery": Key(_bool),
    "ipv6": Key(_bool),
    "allowed_networks": Key(_networks),
    "push_destination": Key(str),
    "button_poll_interval": Key(_number, lambda v: v == 0 or 0.1 <= v <= 3600,
                                "0 (no polling) or from 0.1 to 3600 seconds"),
    "device_timeout": Key(_number, lambda v: 1 <= v <= 3600, "from 1 to 3600 seconds"),
    "location": Key(str),
    "image_transfer": Key(_word, lambda v: v in IMAGE_TRANSFERS,
                          "chunked (stream while scanning) or length (send the whole image with a Content-Length)"),
    "usb_hotplug": Key(_word, lambda v: v in USB_HOTPLUG, "auto, udev, kernel or off (scanners found at start only)"),
    "escl": Key(_bool),
}
"""The [gateway] section. A key not listed here is reported as unknown."""

SCANNER_KEYS: dict[str, Key] = {
    # key (= the ScannerOverride field)
    "name": Key(str),
    "location": Key(str),
    "info": Key(str),
    "enabled": Key(_bool),
    "escl": Key(_bool),
}
"""Each [scanner:PATTERN] section."""

def _line_numbers(text: str) -> dict[tuple[str, str | None], int]:
    """(section, None) and (section, key) -> the line they are on, as configparser reads the file."""
    lines: dict[tuple[str, str | None], int] = {}
    section = None
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.lstrip()[0] in "#;" or line[0].isspace():
            continue
        header = re.match(r"\[(?P<name>[^]]+)\]", line)
        if header:
            section = header["name"]
            lines.setdefault((section, None), number)
        elif section is not None:
            key = re.split(r"[=:]", line, maxsplit=1)[0].strip().lower()
            lines.setdefault((section, key), number)
    return lines


def _suggestion(word: str, known) -> str:
    close = difflib.get_close_matches(word, list(known), n=1)
    return f" (did you mean {close[0]}?)" if close else ""


class _Reader:
    """Turns one parsed file into typed values, each mistake a ConfigError naming the file and the line."""

    def __init__(self, path: Path, text: str):
        self.path = path
        self.lines = _line_numbers(text)

    def error(self, section: str, key: str | None, message: str) -> ConfigError:
        line = self.lines.get((section, key)) or self.lines.get((section, None))
        return ConfigError(f"{self.path}:{line}: {message}" if line else f"{self.path}: {message}")

    def values(self, section: str, items, keys: dict[str, Key]) -> dict[str, Any]:
        values = {}
        for key, text in items:
            spec = keys.get(key)
            if spec is None:
                raise self.error(section, key, f"unknown key {key!r} in [{section}]{_suggestion(key, keys)}")
            try:
                value = spec.parse(text)
            except ValueError as e:
                raise self.error(section, key, f"{key} = {text}: {e}") from None
            if not spec.check(value):
                raise self.error(section, key, f"{key} = {text}: must be {spec.allowed}")
            values[key] = value
        return values

    def section_name(self, section: str) -> None:
        head, colon, pattern = section.partition(":")
        if section == "gateway" or (head == "scanner" and pattern.strip()):
            return
        if head == "scanner":
            raise self.error(section, None, "[scanner:] needs a SANE device name pattern, e.g. [scanner:epson2:*]")
        if colon and difflib.get_close_matches(head, ["scanner"], n=1):
            hint = f" (did you mean [scanner:{pattern}]?)"
        elif not colon and difflib.get_close_matches(head, ["gateway"], n=1):
            hint = " (did you mean [gateway]?)"
        else:
            hint = ""
        raise self.error(section, None, f"unknown section [{section}]{hint}: the sections are [gateway] and "
                                        "[scanner:PATTERN]")


def _parse_error(path: Path, e: configparser.Error) -> ConfigError:
    if isinstance(e, configparser.MissingSectionHeaderError):
        return ConfigError(f"{path}:{e.lineno}: {e.line.strip()!r} comes before any section: put [gateway] "
                           "above it")
    if isinstance(e, configparser.DuplicateOptionError):
        return ConfigError(f"{path}:{e.lineno}: {e.option} is set twice in [{e.section}]")
    if isinstance(e, configparser.DuplicateSectionError):
        return ConfigError(f"{path}:{e.lineno}: [{e.section}] appears twice")
    if isinstance(e, configparser.ParsingError):
        lineno, line = e.errors[0]
        return ConfigError(f"{path}:{lineno}: {line.strip()!r} is not a 'key = value' line")
    return ConfigError(f"{path}: {e}")


def load(path: Path | None) -> Settings:
    """Read the file (a missing default file means defaults); raise ConfigError naming the file, the line and
    what is wrong there."""
    parser = configparser.ConfigParser(interpolation=None, default_section="\0")  # [DEFAULT] is no special case
    text = ""
    if path is not None:
        try:
            text = Path(path).read_text()
        except FileNotFoundError:
            if path != DEFAULT_CONFIG:
                raise ConfigError(f"{path}: no such file") from None
        except (OSError, UnicodeError) as e:
            raise ConfigError(f"{path}: cannot be read: {e}") from None
        try:
            parser.read_string(text, source=str(path))
        except configparser.Error as e:
            raise _parse_error(path, e) from None
    reader = _Reader(path, text)
    for section in parser.sections():
        reader.section_name(section)
    gateway = reader.values("gateway", parser.items("gateway"), GATEWAY_KEYS) if parser.has_section("gateway") \
        else {}
    scanners = tuple(
        ScannerOverride(pattern=section.split(":", 1)[1].strip(),
                        **reader.values(section, parser.items(section), SCANNER_KEYS))
        for section in parser.sections() if section.startswith("scanner:"))
    return validate(Settings(**gateway, scanners=scanners))


def validate(s: Settings) -> Settings:
    """Every [gateway] value checked against its key's allowed values (for flags, which come typed)."""
    for key, spec in GATEWAY_KEYS.items():
        value = getattr(s, key)
        if not spec.check(value):
            raise ConfigError(f"{key} {value}: must be {spec.allowed}")
    return s


def with_flags(s: Settings, **flags) -> Settings:
    """Command-line values (None = not given) over the file's."""
    given = {k: v for k, v in flags.items() if v is not None}
    for key, value in given.items():
        spec = GATEWAY_KEYS[key]
        if not spec.check(value):
            raise ConfigError(f"--{key.replace('_', '-')} {value}: must be {spec.allowed}")
    return validate(replace(s, **given))
