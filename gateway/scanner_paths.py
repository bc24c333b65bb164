"""One scanner's URL space, shared by its front ends: ``/<uuid>`` and ``/<uuid>/scan`` are WSD's,
``/<uuid>/eSCL/...`` is eSCL's. Neither front end knows of the other; the wiring puts them side by side."""

from __future__ import annotations

from twisted.web import resource


class ScannerPaths(resource.Resource):
    def __init__(self, wsd: resource.Resource, escl: resource.Resource):
        super().__init__()
        self.wsd = wsd
        self.escl = escl

    def getChild(self, path: bytes, request):
        # WSD's resource answers every path below the device itself (it reads the SOAP message, not the path).
        return self.escl if path == b"eSCL" else self.wsd

    def render(self, request):
        return self.wsd.render(request)

    def render_POST(self, request):
        """A SOAP message posted to ``/`` and routed here by its wsa:To."""
        return self.wsd.render_POST(request)
