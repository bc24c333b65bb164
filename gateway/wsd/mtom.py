"""MTOM/XOP framing for RetrieveImage: the SOAP part first, then the image part, streamed.

Only MIME headers are written here; the SOAP part is serialised by lxml
before it arrives. The image part has no length: its bytes follow as the
scanner delivers them and the closing boundary ends it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field


def _content_id() -> str:
    return f"{uuid.uuid4()}@sane-wsd-gateway"


@dataclass(frozen=True)
class MtomMessage:
    image_content_type: str
    boundary: str = field(default_factory=lambda: f"MIMEBoundary{uuid.uuid4().hex}")
    soap_id: str = field(default_factory=_content_id)
    image_id: str = field(default_factory=_content_id)

    @property
    def content_type(self) -> str:
        """The HTTP Content-Type of the whole response."""
        return (f'multipart/related; type="application/xop+xml"; boundary="{self.boundary}"; '
                f'start="<{self.soap_id}>"; start-info="application/soap+xml"')

    def head(self, soap_part: bytes) -> bytes:
        """Everything before the first image byte.

        It opens with a CRLF before the first boundary: RFC 2046 allows a
        preamble there, and some MIME parsers only find a boundary that
        follows a line break.
        """
        return b"".join([
            b"\r\n--", self.boundary.encode(), b"\r\n",
            b'Content-Type: application/xop+xml; charset=UTF-8; type="application/soap+xml"\r\n',
            b"Content-Transfer-Encoding: binary\r\n",
            b"Content-ID: <", self.soap_id.encode(), b">\r\n\r\n",
            soap_part, b"\r\n",
            b"--", self.boundary.encode(), b"\r\n",
            b"Content-Type: ", self.image_content_type.encode(), b"\r\n",
            b"Content-Transfer-Encoding: binary\r\n",
            b"Content-ID: <", self.image_id.encode(), b">\r\n\r\n",
        ])

    def tail(self) -> bytes:
        return b"\r\n--" + self.boundary.encode() + b"--\r\n"
