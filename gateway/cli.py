"""The command line: ``sane-wsd-gateway run | list | push``, its help, its exit statuses and its logs."""

from __future__ import annotations

import argparse
import errno
import os
import signal
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from gateway import __version__
from gateway.config import DEFAULT_CONFIG, DEFAULT_PORT, LOG_LEVELS, ConfigError, load, with_flags
from gateway.exits import ExitStatus, StartError

DESCRIPTION = """\
Makes the scanners SANE sees on this machine appear on the network as WSD
(Web Services on Devices) scanners, so that Windows finds them by itself and
scans with its own driver: Windows Scan, Windows Fax and Scan, any WIA program.

With no real scanner attached, SANE's 'test' device is served instead so that
you can see it work (turn that off with test_device = no in the config).
"""

EXIT_STATUSES = "\n".join(f"  {status.value}  {status.meaning}" for status in ExitStatus)

EPILOG = f"""\
commands:
  run    serve every scanner in the foreground until SIGTERM or Ctrl-C
  list   print the scanners that would be served, their URLs on this machine's
         addresses, UUIDs and capabilities
  push   start a scan at a scanner and send it to a PC (a "scan to computer" button):
         sane-wsd-gateway push SCANNER DESTINATION, where DESTINATION is the name a PC
         registered (Windows: its computer name)

the two commands you will use most:
  sane-wsd-gateway list                   does SANE see the scanner, and at which URLs?
  sane-wsd-gateway run --log-level debug  serve in the foreground and log every step
                                          (stop the service first: systemctl stop sane-wsd-gateway)

Settings come from {DEFAULT_CONFIG} (every option is explained in that file);
the flags of each command override it (sane-wsd-gateway run --help). SIGHUP re-reads
names, locations and push settings. Logs go to standard output: under systemd to the
journal, with priorities (journalctl -u sane-wsd-gateway -p warning).
Network: TCP port {DEFAULT_PORT} by default (SOAP over HTTP and the status page at
http://THIS-HOST:{DEFAULT_PORT}/), UDP 3702 multicast for WS-Discovery.

exit status:
{EXIT_STATUSES}
"""


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="sane-wsd-gateway", description=DESCRIPTION, epilog=EPILOG,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--version", action="version", version=f"sane-wsd-gateway {__version__}")
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    for name, help_ in (("run", "serve the scanners (foreground)"), ("list", "list the scanners and exit"),
                        ("push", "offer a scan to a PC, as the scanner's scan button would")):
        c = sub.add_parser(name, help=help_, description=help_, epilog=f"exit status:\n{EXIT_STATUSES}",
                           formatter_class=argparse.RawDescriptionHelpFormatter)
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


def start_logging(level: str, stream=None) -> None:
    """Log to ``stream`` (default standard output): journald's priorities under systemd, Twisted's text with
    time stamps otherwise."""
    from twisted.logger import FilteringLogObserver, LogLevel, LogLevelFilterPredicate, globalLogBeginner
    from twisted.internet import reactor

    from gateway.connections import ConnectionLogFilter
    from gateway.journal import log_observer

    predicate = LogLevelFilterPredicate(defaultLogLevel=LogLevel.levelWithName(level))
    observer = FilteringLogObserver(log_observer(stream or sys.stdout), [predicate, ConnectionLogFilter(reactor)])
    globalLogBeginner.beginLoggingTo([observer], redirectStandardIO=False)


SIGNAL_CHECK_INTERVAL = 1.0
"""Seconds between checks that no SANE backend thread changed the gateway's signal handling."""

PI_INTERFACES = "end0 or eth0 for Ethernet, wlan0 for Wi-Fi on a Raspberry Pi"


def check_interfaces(settings, log) -> None:
    """An interface asked for that does not exist stops the start (StartError, naming those there are); one
    that exists without an address yet is a warning: it is served as soon as it has one."""
    from gateway.addresses import interface_names, local_addresses

    if not settings.interfaces:
        return
    existing = interface_names()
    missing = [name for name in settings.interfaces if name not in existing]
    if missing:
        raise StartError(ExitStatus.NO_SUCH_INTERFACE,
                         f"no network interface {', '.join(missing)} on this machine; it has "
                         f"{', '.join(existing) or 'none'} ({PI_INTERFACES}). Fix interfaces = in the config "
                         "or --interface, or leave it empty to serve every interface")
    with_address = {a.ifname for a in local_addresses(settings.interfaces, settings.ipv6)}
    for name in settings.interfaces:
        if name not in with_address:
            log.warn("interface {name} has no address (or is down): PCs cannot reach the gateway there until it "
                     "has one; it is served from then on", name=name)


def start_error(error: BaseException, settings) -> StartError | None:
    """What a failed start means for a person (a StartError with its exit status), or None when it is not one
    we know."""
    from twisted.internet.error import CannotListenError

    from gateway.statefiles import StateFileError

    if isinstance(error, StartError):
        return error
    if isinstance(error, StateFileError):
        return StartError(ExitStatus.STATE_DIR, f"{error} (free space in the state directory "
                                                f"{settings.state_dir}, or fix its permissions, then start again)")
    if isinstance(error, CannotListenError):
        cause = error.socketError
        port = settings.port
        if getattr(cause, "errno", None) == errno.EADDRINUSE:
            why = (f"TCP port {port} is in use by another program ({cause.strerror}); `ss -ltnp 'sport = :{port}'` "
                   "shows which. Stop it, or choose another port = in the config (or --port)")
        else:
            why = (f"cannot listen on TCP port {port}: {getattr(cause, 'strerror', None) or cause}"
                   + ("; ports below 1024 need privileges the service does not have: choose port = 1024 or above"
                      if port < 1024 else ""))
        return StartError(ExitStatus.CANNOT_LISTEN, why)
    return None


def log_reach(gateway, settings, log) -> None:
    """The start log's URLs: the status page and each scanner's device address on every address served."""
    from gateway.reach import reaches

    found = reaches(settings.interfaces, settings.ipv6)
    if not found:
        log.warn("no network address on {where} yet: PCs cannot reach the gateway until there is one (it is "
                 "announced as soon as one appears)",
                 where=", ".join(settings.interfaces) if settings.interfaces else "any interface")
        return
    pages = [r for r in found if not r.link_local] or found  # a browser takes no link-local URL without a zone
    log.info("status page: {urls}", urls=", ".join(f"{r.url(settings.port)} ({r.ifname})" for r in pages))
    for entry in gateway.served.values():
        scanner = entry.scanner
        log.info("{name}: device address {urls}", name=scanner.name,
                 urls=", ".join(f"{gateway.url_on(r.address, scanner.uuid)} ({r.ifname})" for r in found))


def run(settings, args, parts: Parts) -> int:
    from twisted.internet import reactor
    from twisted.logger import Logger

    from gateway.app import Gateway, sane_library
    from twisted.internet.task import LoopingCall

    from gateway.journal import notify
    from gateway.scanner.saneapi import keep_signal_handling, restore_signal_handling

    from gateway.statefiles import StateFileError

    log = Logger()
    start_logging(settings.log_level)
    try:
        check_interfaces(settings, log)
        gateway = Gateway(settings, reactor, sane_library(settings, parts.sane_library), **parts.gateway_options())
    except (StartError, StateFileError) as e:
        error = start_error(e, settings)
        log.critical("cannot start: {error}", error=error)
        return error.status
    failed: list[ExitStatus] = []

    def started(_):
        log_reach(gateway, settings, log)
        notify("READY=1")

    def started_failed(failure):
        error = start_error(failure.value, settings)
        if error is not None:
            log.critical("cannot start: {error}", error=error)
            failed.append(error.status)
        else:
            log.failure("the gateway could not start", failure)
            failed.append(ExitStatus.FAILED)
        reactor.stop()

    reactor.callWhenRunning(lambda: gateway.start().addCallbacks(started, started_failed))
    reactor.addSystemEventTrigger("before", "shutdown", notify, "STOPPING=1")
    reactor.addSystemEventTrigger("before", "shutdown", gateway.stop)

    def stop(signum):
        log.info("{signal} received: stopping", signal=signal.Signals(signum).name)
        reactor.stop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, _frame: reactor.callFromThread(stop, signum))

    def reload():
        try:
            new = settings_from(args)
        except ConfigError as e:
            log.error("configuration not reloaded: {error}", error=e)
            return
        notify("RELOADING=1")
        gateway.reload(new)
        log.info("configuration reloaded")
        notify("READY=1")
    signal.signal(signal.SIGHUP, lambda *_: reactor.callFromThread(reload))
    signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # a peer that hangs up is an error return, never a death
    keep_signal_handling()
    reactor.callWhenRunning(LoopingCall(restore_signal_handling).start, SIGNAL_CHECK_INTERVAL, now=False)
    reactor.run(installSignalHandlers=False)
    return failed[0] if failed else ExitStatus.OK


def scanner_lines(gateway, settings) -> list[str]:
    """What ``list`` prints: each scanner with its SANE name, UUID, URLs on this machine's real addresses and
    capabilities."""
    from gateway.reach import reaches

    found = reaches(settings.interfaces, settings.ipv6)
    lines = []
    for entry in gateway.served.values():
        scanner = entry.scanner
        caps = scanner.capabilities
        lines += [scanner.name, f"  SANE device: {scanner.identity.device}", f"  UUID:        {scanner.uuid}"]
        urls = [f"{gateway.url_on(r.address, scanner.uuid)}/scan ({r.ifname})" for r in found] or [
            "none yet: no interface has an address"]
        lines += [f"  {'URL:' if i == 0 else '':12} {url}" for i, url in enumerate(urls)]
        for source in caps.sources():
            sc = caps.source(source)
            lines.append(f"  {source.value + ':':12} {', '.join(c.value for c in sc.colors)}; "
                         f"{min(sc.resolutions_x)}-{max(sc.resolutions_x)} dpi; "
                         f"up to {sc.max_size.width / 1000:.2f} x {sc.max_size.height / 1000:.2f} in")
        lines.append(f"  Formats:     {', '.join(caps.formats)}")
    pages = [r for r in found if not r.link_local] or found  # a browser takes no link-local URL without a zone
    if pages:
        lines.append(f"Status page: {', '.join(r.url(settings.port) for r in pages)} (while `run` serves)")
    return lines


def list_scanners(settings, parts: Parts) -> int:
    """Open every scanner, describe it, close them all (also on SIGTERM, so no device thread keeps the process
    alive), and only then print: a reader that stops early (``| head -1``) cannot leave a scanner open."""
    from twisted.internet import defer, task

    from twisted.logger import Logger

    from gateway.app import Gateway, sane_library

    log = Logger()
    start_logging("warn", sys.stderr)  # standard output is the list
    check_interfaces(settings, log)
    lines: list[str] = []

    def main(reactor):
        gateway = Gateway(settings, reactor, sane_library(settings, parts.sane_library), **parts.gateway_options())

        async def close_all():
            await defer.DeferredList([entry.scanner.stop() for entry in gateway.served.values()])
            gateway.served.clear()
        reactor.addSystemEventTrigger("before", "shutdown", lambda: defer.ensureDeferred(close_all()))

        async def go():
            try:
                _found, wanted = await gateway.find_devices()
                if not wanted:
                    lines.append("No scanner found. Check `scanimage -L`, and that this user may open the device.")
                for served in wanted:
                    await gateway.add_scanner(served)
                lines.extend(scanner_lines(gateway, settings))
            finally:
                await close_all()
        return defer.ensureDeferred(go())

    try:
        task.react(main)
    except SystemExit as e:
        if e.code:
            return ExitStatus.FAILED
    return print_quietly(lines)


def print_quietly(lines: list[str]) -> int:
    """Print; a reader that closed the pipe early is no error (exit 0, nothing on stderr)."""
    try:
        for line in lines:
            print(line)
        sys.stdout.flush()
    except BrokenPipeError:
        # Python flushes stdout again at exit: point it at /dev/null so that does not fail too.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    return ExitStatus.OK


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
        return ExitStatus.FAILED
    if not token_usable(token):
        print(f"sane-wsd-gateway: the push token in {settings.state_dir / TOKEN_FILE} is empty or too short; "
              "restart the gateway to make a new one", file=sys.stderr)
        return ExitStatus.FAILED
    request = urllib.request.Request(url, data=urllib.parse.urlencode(form).encode(),
                                     headers={TOKEN_HEADER.decode(): token})
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            print(r.read().decode().strip())
            return ExitStatus.OK
    except urllib.error.HTTPError as e:
        print(f"sane-wsd-gateway: {e.read().decode().strip()}", file=sys.stderr)
    except OSError as e:
        print(f"sane-wsd-gateway: the gateway does not answer at {url}: {e}", file=sys.stderr)
    return ExitStatus.FAILED


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
    from gateway.statefiles import StateFileError

    p = parser()
    args = p.parse_args(argv)
    if args.command is None:
        p.print_help()
        return ExitStatus.USAGE
    try:
        settings = settings_from(args)
    except ConfigError as e:
        print(f"sane-wsd-gateway: {e}", file=sys.stderr)
        return ExitStatus.USAGE
    if args.command == "run":
        return run(settings, args, parts)
    try:
        if args.command == "list":
            return list_scanners(settings, parts)
        return push(settings, args.scanner, args.destination)
    except StartError as e:
        print(f"sane-wsd-gateway: {e}", file=sys.stderr)
        return e.status
    except StateFileError as e:
        print(f"sane-wsd-gateway: {e}", file=sys.stderr)
        return ExitStatus.STATE_DIR
