"""A WS-Eventing sink for tests: a small twisted.web server that prints every event it receives.

    python event_sink.py --port N [--host ADDRESS] [--mode ok|hang|fail]

Prints ``{"ready": port}`` once listening, then one JSON line per POST:
``{"path", "action", "body"}`` (body: the SOAP Body's first element, as XML text).
``hang`` never answers; ``fail`` answers HTTP 500.
"""

from __future__ import annotations

import argparse
import json
import sys

from lxml import etree
from twisted.internet import reactor
from twisted.web import resource, server

SOAP = "http://www.w3.org/2003/05/soap-envelope"
WSA = "http://schemas.xmlsoap.org/ws/2004/08/addressing"


class Sink(resource.Resource):
    isLeaf = True

    def __init__(self, mode: str):
        super().__init__()
        self.mode = mode

    def render_POST(self, request):
        data = request.content.read()
        try:
            env = etree.fromstring(data, etree.XMLParser(resolve_entities=False, no_network=True))
            action = env.findtext(f"{{{SOAP}}}Header/{{{WSA}}}Action")
            header = env.find(f"{{{SOAP}}}Header")
            body = next(iter(env.find(f"{{{SOAP}}}Body")), None)
            record = {"path": request.path.decode(), "action": action,
                      "headers": [etree.QName(h).localname for h in header],
                      "header_xml": etree.tostring(header).decode(),
                      "body": etree.tostring(body).decode() if body is not None else ""}
        except Exception as e:  # a test sink reports what it could not read
            record = {"path": request.path.decode(), "error": str(e)}
        print(json.dumps(record), flush=True)
        if self.mode == "hang":
            return server.NOT_DONE_YET
        if self.mode == "fail":
            request.setResponseCode(500)
        return b""


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--host", default="127.0.0.1", help="the address to listen on")
    p.add_argument("--mode", choices=["ok", "hang", "fail"], default="ok")
    args = p.parse_args()
    reactor.listenTCP(args.port, server.Site(Sink(args.mode)), interface=args.host)
    reactor.callWhenRunning(lambda: print(json.dumps({"ready": args.port}), flush=True))
    reactor.run()


if __name__ == "__main__":
    main()
    sys.exit(0)
