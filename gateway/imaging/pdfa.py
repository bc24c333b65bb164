"""The fixed parts of a PDF/A-1b file: ICC profiles, XMP metadata, dates.

The output intent profiles are generated here rather than read from a
system package: an ICC v2.1 display profile of sRGB (D50-adapted
primaries, the sRGB tone curve as a 1024-entry table) and a grey profile
with the same tone curve.  PDF/A-1 is based on PDF 1.4, which reads ICC
profiles up to version 2.x.
"""
from __future__ import annotations

import datetime
import struct

PRODUCER = "sane-wsd-gateway"

_D50 = (0.9642, 1.0, 0.8249)
# sRGB primaries adapted to D50 (Bradford), as in the common sRGB profiles.
_SRGB_PRIMARIES = ((0.4360747, 0.2225045, 0.0139322),
                   (0.3850649, 0.7168786, 0.0971045),
                   (0.1430804, 0.0606169, 0.7141733))


def _s15(v: float) -> bytes:
    return struct.pack(">i", round(v * 65536))


def _desc(text: str) -> bytes:
    """textDescriptionType (ICC v2): ASCII, then empty Unicode and ScriptCode parts."""
    ascii_ = text.encode("ascii") + b"\0"
    return (b"desc" + bytes(4) + struct.pack(">I", len(ascii_)) + ascii_
            + struct.pack(">II", 0, 0) + struct.pack(">HB", 0, 0) + bytes(67))


def _text(text: str) -> bytes:
    return b"text" + bytes(4) + text.encode("ascii") + b"\0"


def _xyz(x: float, y: float, z: float) -> bytes:
    return b"XYZ " + bytes(4) + _s15(x) + _s15(y) + _s15(z)


def _srgb_curve(entries: int = 1024) -> bytes:
    table = []
    for i in range(entries):
        v = i / (entries - 1)
        linear = v / 12.92 if v <= 0.04045 else ((v + 0.055) / 1.055) ** 2.4
        table.append(round(linear * 65535))
    return b"curv" + bytes(4) + struct.pack(f">I{entries}H", entries, *table)


def icc_profile(channels: int) -> bytes:
    """An ICC v2.1 monitor profile: sRGB for 3 channels, sRGB-curve grey for 1."""
    curve = _srgb_curve()
    if channels == 3:
        name, space = "sRGB (sane-wsd-gateway)", b"RGB "
        tags = [(b"rXYZ", _xyz(*_SRGB_PRIMARIES[0])), (b"gXYZ", _xyz(*_SRGB_PRIMARIES[1])),
                (b"bXYZ", _xyz(*_SRGB_PRIMARIES[2])),
                (b"rTRC", curve), (b"gTRC", curve), (b"bTRC", curve)]
    else:
        name, space = "Grey, sRGB curve (sane-wsd-gateway)", b"GRAY"
        tags = [(b"kTRC", curve)]
    tags = [(b"desc", _desc(name)), (b"cprt", _text("No copyright, use freely")),
            (b"wtpt", _xyz(*_D50))] + tags

    table_at = 128
    data_at = table_at + 4 + 12 * len(tags)
    table, data, placed = [struct.pack(">I", len(tags))], b"", {}
    for sig, body in tags:
        if body not in placed:  # the three TRCs share one copy
            placed[body] = data_at + len(data)
            data += body + bytes(-len(body) % 4)
        table.append(sig + struct.pack(">II", placed[body], len(body)))
    size = data_at + len(data)
    header = (struct.pack(">I", size) + bytes(4) + struct.pack(">I", 0x02100000) + b"mntr"
              + space + b"XYZ " + struct.pack(">6H", 2024, 1, 1, 0, 0, 0) + b"acsp"
              + bytes(4 * 4 + 8) + struct.pack(">I", 0) + _s15(_D50[0]) + _s15(_D50[1])
              + _s15(_D50[2]) + bytes(4 + 16 + 28))
    assert len(header) == 128
    return header + b"".join(table) + data


OUTPUT_CONDITION = {3: "sRGB IEC61966-2.1", 1: "Grey, sRGB tone curve"}


def pdf_date(when: datetime.datetime) -> str:
    return when.strftime("D:%Y%m%d%H%M%S+00'00'")


def xmp_date(when: datetime.datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%S+00:00")


def xmp_metadata(when: datetime.datetime) -> bytes:
    """XMP packet declaring PDF/A-1b, matching the document information dictionary."""
    return f"""<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>
<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about="" xmlns:pdfaid="http://www.aiim.org/pdfa/ns/id/">
   <pdfaid:part>1</pdfaid:part>
   <pdfaid:conformance>B</pdfaid:conformance>
  </rdf:Description>
  <rdf:Description rdf:about="" xmlns:pdf="http://ns.adobe.com/pdf/1.3/">
   <pdf:Producer>{PRODUCER}</pdf:Producer>
  </rdf:Description>
  <rdf:Description rdf:about="" xmlns:xmp="http://ns.adobe.com/xap/1.0/">
   <xmp:CreateDate>{xmp_date(when)}</xmp:CreateDate>
   <xmp:ModifyDate>{xmp_date(when)}</xmp:ModifyDate>
   <xmp:MetadataDate>{xmp_date(when)}</xmp:MetadataDate>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
<?xpacket end="w"?>""".encode("utf-8")


def info_dictionary(when: datetime.datetime) -> bytes:
    return (f"<< /Producer ({PRODUCER}) /CreationDate ({pdf_date(when)}) "
            f"/ModDate ({pdf_date(when)}) >>").encode("ascii")


def number(v: float) -> bytes:
    """A PDF real without exponent, at most 4 decimals."""
    text = f"{v:.4f}".rstrip("0").rstrip(".")
    return text.encode("ascii")
