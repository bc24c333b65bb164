"""Signals keep meaning what the gateway says they mean, whatever a SANE backend did to them during a scan.

SANE's reader-thread helper and backends' reader threads change the process's
signal dispositions (SIGPIPE back to the default, which kills; SIGTERM's
handler replaced). The gateway puts its own back after every SANE call.
"""

import os
import signal
import socket
import threading
import time

from gateway.wsd import namespaces as ns
from tests.support.gateway_process import GatewayProcess
from tests.support.sinks import EventSink, subscribe
from tests.support.soap_client import call, create_job, el, job_of, retrieve, ticket

EVENTS = ("JobStatusEvent", "JobEndStateEvent", "ScannerStatusSummaryEvent")


def scan(gw):
    job_id, token = job_of(create_job(gw.scan_url, ticket(dpi=75, region=(0, 0, 1000, 1000))))
    assert retrieve(gw.scan_url, job_id, token).status == 200


class HangingUpSink:
    """An event sink that takes the start of each event and closes its connection before the rest."""

    def __init__(self):
        self._server = socket.socket()
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(64)
        self._server.settimeout(0.2)
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}/sink"
        self.connections = 0
        self._stop = threading.Event()

    def __enter__(self):
        threading.Thread(target=self._serve, daemon=True).start()
        return self

    def _serve(self):
        while not self._stop.is_set():
            try:
                conn, _ = self._server.accept()
            except OSError:
                continue
            self.connections += 1
            with conn:
                conn.settimeout(2)
                try:
                    conn.recv(64)
                except OSError:
                    pass

    def __exit__(self, *exc):
        self._stop.set()
        self._server.close()


def test_after_a_scan_an_event_sink_that_hangs_up_mid_event_does_not_kill_the_gateway(tmp_path):
    with GatewayProcess(tmp_path) as gw, HangingUpSink() as sink:
        scan(gw)
        subscribe(gw.scan_url, sink.url, EVENTS)
        scan(gw)
        deadline = time.monotonic() + 20
        while sink.connections < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert sink.connections >= 3
        # A write to a connection its peer has closed raises SIGPIPE in the writing process;
        # Twisted usually notices the close first, so raise the same signal to leave nothing to luck.
        os.kill(gw.proc.pid, signal.SIGPIPE)
        time.sleep(0.5)
        assert gw.proc.poll() is None, gw.log()[-3000:]
        assert call(gw.scan_url, "GetActiveJobs", el("GetActiveJobsRequest")).status == 200


def test_after_a_scan_sigterm_ends_the_subscriptions_and_exits_0(tmp_path):
    with EventSink() as end_sink:
        gw = GatewayProcess(tmp_path)
        with gw:
            subscribe(gw.scan_url, end_sink.url, ("JobStatusEvent",), end_to=end_sink.url + "/end")
            scan(gw)
            status = gw.stop()
        assert status == 0, gw.log()[-3000:]
        assert end_sink.wait_for(lambda ev: any(e["action"] == ns.SUBSCRIPTION_END_ACTION for e in ev), timeout=10)
        assert "stopping" in gw.log()


def test_sigusr1_writes_every_threads_stack_to_the_log_and_the_gateway_goes_on(tmp_path):
    with GatewayProcess(tmp_path) as gw:
        retrieve(gw.scan_url, *job_of(create_job(gw.scan_url, ticket(dpi=75))))
        gw.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 10
        while "Current thread" not in gw.log() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "Current thread" in gw.log() and "File " in gw.log()
        assert gw.proc.poll() is None
        assert retrieve(gw.scan_url, *job_of(create_job(gw.scan_url, ticket(dpi=75)))).status == 200
