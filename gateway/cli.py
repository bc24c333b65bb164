"""The command line: ``sane-wsd-gateway run | list``."""

from __future__ import annotations

import argparse
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from gateway import __version__
from gateway.config import DEFAULT_CONFIG, DEFAULT_PORT, LOG_LEVELS, ConfigError, load, with_flags

DESCRIPTION = """\
Makes the scanners SANE sees on this machine appear on the network as WSD
(Web Services on Devices) scanners, so that Windows finds them by itself and
scans with its own driver: Windows Scan, Windows Fax and Scan, any WIA program.

With no real scanner attached, SANE's 'test' device is served instead so that
you can see it work (turn that off with test_device = no in the config).
"""

EPILOG = f"""\
commands:
  run    serve every scanner in the foreground until SIGTERM or Ctrl-C
  list   print the scanners that would be served, their URLs, UUIDs and capabilities
  push   start a scan at a scanner and send it to a PC (a "scan to computer" button):
         sane-wsd-gateway push SCANNER DESTINATION, where DESTINATION is the name a PC
         registered (Windows: its computer name)

Settings come from {DEFAULT_CONFIG} (every option is explained in that file);
the flags below override it. SIGHUP re-reads names, locations and push settings. Logs go to standard output (the journal under systemd).
Network: TCP port {DEFAULT_PORT} by default (SOAP over HTTP and the status page),
UDP 3702 multicast for WS-Discovery.
"""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sane-wsd-gateway", description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"sane-wsd-gateway {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_ in (("run", "serve the scanners (foreground)"), ("list", "list the scanners and exit"),
                        ("push", "offer a scan to a PC, as the scanner's scan button would")):
        c = sub.add_parser(name, help=help_, description=help_)
        if name == "push":
            c.add_argument("scanner", metavar="SCANNER", help="friendly name, SANE name or UUID of the scanner")
            c.add_argument("destination", metavar="DESTINATION", nargs="?",
                           help="the destination name a PC registered (default: push_destination from the "
                                "config, else the last PC that registered one)")
        c.add_argument("--config", type=Path, default=DEFAULT_CONFIG, metavar="FILE",
                       help=f"configuration file (default {DEFAULT_CONFIG})")
        c.add_argument("--port", type=int, metavar="N", help=f"HTTP port (default {DEFAULT_PORT})")
        c.add_argument("--interface", action="append", metavar="NAME", dest="interfaces",
                       help="serve and announce on this network interface only (repeatable; default: all)")
        c.add_argument("--state-dir", type=Path, metavar="DIR",
                       help="where device UUIDs are kept (default /var/lib/sane-wsd-gateway)")
        c.add_argument("--log-level", choices=LOG_LEVELS, metavar="LEVEL",
                       help=f"one of {', '.join(LOG_LEVELS)} (default info)")
        c.add_argument("--test-device", choices=("auto", "yes", "no"),
                       help="serve SANE's test device: auto = only when no real scanner is found")
        c.add_argument("--backend", action="append", metavar="NAME", dest="backends",
                       help="load only this SANE backend (repeatable; default: the system's list)")
        c.add_argument("--no-discovery", action="store_const", const=False, dest="discovery",
                       help="do not announce on the network (clients must be given the URL)")
    return p


def settings_from(args):
    return with_flags(
        load(args.config),
        port=args.port,
        interfaces=tuple(args.interfaces) if args.interfaces else None,
        state_dir=args.state_dir,
        log_level=args.log_level,
        test_device=args.test_device,
        backends=tuple(args.backends) if args.backends else None,
        discovery=args.discovery,
    )


def start_logging(level: str) -> None:
    from twisted.logger import (
        FilteringLogObserver, LogLevel, LogLevelFilterPredicate, globalLogBeginner, textFileLogObserver,
    )
    from twisted.internet import reactor

    from gateway.connections import ConnectionLogFilter

    predicate = LogLevelFilterPredicate(defaultLogLevel=LogLevel.levelWithName(level))
    observer = FilteringLogObserver(textFileLogObserver(sys.stdout), [predicate, ConnectionLogFilter(reactor)])
    globalLogBeginner.beginLoggingTo([observer], redirectStandardIO=False)


SIGNAL_CHECK_INTERVAL = 1.0
"""Seconds between checks that no SANE backend thread changed the gateway's signal handling."""


def run(settings, args, parts: Parts) -> int:
    from twisted.internet import reactor
    from twisted.logger import Logger

    from gateway.app import Gateway, sane_library
    from twisted.internet.task import LoopingCall

    from gateway.scanner.saneapi import keep_signal_handling, restore_signal_handling

    from gateway.statefiles import StateFileError

    log = Logger()
    start_logging(settings.log_level)
    try:
        gateway = Gateway(settings, reactor, sane_library(settings, parts.sane_library), **parts.gateway_options())
    except StateFileError as e:
        log.critical("cannot start: {error} (free space in the state directory, or fix its permissions, "
                     "then start again)", error=e)
        return 1
    failed = []

    def started_failed(failure):
        log.failure("the gateway could not start", failure)
        failed.append(failure)
        reactor.stop()

    reactor.callWhenRunning(lambda: gateway.start().addErrback(started_failed))
    reactor.addSystemEventTrigger("before", "shutdown", gateway.stop)

    def stop(signum):
        log.info("{signal} received: stopping", signal=signal.Signals(signum).name)
        reactor.stop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, _frame: reactor.callFromThread(stop, signum))

    def reload():
        try:
            gateway.reload(settings_from(args))
            log.info("configuration reloaded")
        except ConfigError as e:
            log.error("configuration not reloaded: {error}", error=e)
    signal.signal(signal.SIGHUP, lambda *_: reactor.callFromThread(reload))
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # a peer that hangs up is an error return, never a death
    keep_signal_handling()
    reactor.callWhenRunning(LoopingCall(restore_signal_handling).start, SIGNAL_CHECK_INTERVAL, now=False)
    reactor.run(installSignalHandlers=False)
    return 1 if failed else 0


def list_scanners(settings, parts: Parts) -> int:
    from twisted.internet import task

    from gateway.app import Gateway, sane_library

    def main(reactor):
        gateway = Gateway(settings, reactor, sane_library(settings, parts.sane_library), **parts.gateway_options())

        async def go():
            _found, wanted = await gateway.find_devices()
            if not wanted:
                print("No scanner found. Check `scanimage -L`, and that this user may open the device.")
            for served in wanted:
                await gateway.add_scanner(served)
            for entry in gateway.served.values():
                scanner = entry.scanner
                caps = scanner.capabilities
                print(f"{scanner.name}")
                print(f"  SANE device: {scanner.identity.device}")
                print(f"  UUID:        {scanner.uuid}")
                print(f"  URL:         {gateway.url_on('HOST', scanner.uuid)}/scan")
                for source in caps.sources():
                    sc = caps.source(source)
                    print(f"  {source.value + ':':12} {', '.join(c.value for c in sc.colors)}; "
                          f"{min(sc.resolutions_x)}-{max(sc.resolutions_x)} dpi; "
                          f"up to {sc.max_size.width / 1000:.2f} x {sc.max_size.height / 1000:.2f} in")
                print(f"  Formats:     {', '.join(caps.formats)}")
                await scanner.stop()
        from twisted.internet.defer import ensureDeferred
        return ensureDeferred(go())

    task.react(main)
    return 0


def push(settings, scanner: str, destination: str | None) -> int:
    """Ask the running gateway (on this machine) to offer a scan to a PC."""
    import urllib.error
    import urllib.parse
    import urllib.request

    form = {"scanner": scanner}
    if destination:
        form["destination"] = destination
    from gateway.web.push import TOKEN_FILE, TOKEN_HEADER, token_usable

    url = f"http://127.0.0.1:{settings.port}/push"
    try:
        token = (settings.state_dir / TOKEN_FILE).read_text().strip()
    except OSError as e:
        print(f"sane-wsd-gateway: cannot read the push token ({e}); run as root or as the service's user",
              file=sys.stderr)
        return 1
    if not token_usable(token):
        print(f"sane-wsd-gateway: the push token in {settings.state_dir / TOKEN_FILE} is empty or too short; "
              "restart the gateway to make a new one", file=sys.stderr)
        return 1
    request = urllib.request.Request(url, data=urllib.parse.urlencode(form).encode(),
                                     headers={TOKEN_HEADER.decode(): token})
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            print(r.read().decode().strip())
            return 0
    except urllib.error.HTTPError as e:
        print(f"sane-wsd-gateway: {e.read().decode().strip()}", file=sys.stderr)
    except OSError as e:
        print(f"sane-wsd-gateway: the gateway does not answer at {url}: {e}", file=sys.stderr)
    return 1


@dataclass(frozen=True)
class Parts:
    """What the gateway is built from that a test may swap: the SANE library (a fake at the python-sane
    boundary) and the RetrieveImage deadline. The defaults are the real ones."""

    sane_library: Callable[[str], Any] | None = None
    """config_dir -> a saneapi.SaneLibrary (default: the real one)."""
    retrieve_timeout: float | None = None

    def gateway_options(self) -> dict:
        return {} if self.retrieve_timeout is None else {"retrieve_timeout": self.retrieve_timeout}


def main(argv: list[str] | None = None, parts: Parts = Parts()) -> int:
    p = parser()
    args = p.parse_args(argv)
    if args.command is None:
        p.print_help()
        return 2
    try:
        settings = settings_from(args)
    except ConfigError as e:
        print(f"sane-wsd-gateway: {e}", file=sys.stderr)
        return 2
    if args.command == "list":
        return list_scanners(settings, parts)
    if args.command == "push":
        return push(settings, args.scanner, args.destination)
    return run(settings, args, parts)
