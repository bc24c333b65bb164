"""A small independent reader of the PDFs the encoder writes, for PDF/A-1b checks.

It follows the cross-reference table (so offsets must be exact), resolves
objects by number and checks every stream's /Length against the bytes
between the EOL after ``stream`` and the EOL before ``endstream``.
"""
from __future__ import annotations

import re
import shutil
import subprocess
import zlib
from dataclasses import dataclass

import pytest


def need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} is not installed (Debian: libtiff-tools, qpdf, poppler-utils)")
    return path


def run(*args: str) -> str:
    done = subprocess.run([need(args[0]), *args[1:]], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, f"{args[0]} failed: {done.stderr}"
    return done.stdout + done.stderr


@dataclass
class PdfObject:
    number: int
    text: str  # the object between "N 0 obj" and "endobj", stream data left out
    stream: bytes | None


class Pdf:
    def __init__(self, data: bytes):
        self.data = data
        tail = data[-64:]
        assert tail.endswith(b"%%EOF\n"), tail
        start = int(re.search(rb"startxref\n(\d+)\n%%EOF\n$", data).group(1))
        xref = data[start:]
        assert xref.startswith(b"xref\n0 ")
        first, count = map(int, re.match(rb"xref\n(\d+) (\d+)\n", xref).groups())
        assert first == 0
        entries_at = xref.index(b"\n", 5) + 1
        self.offsets = {}
        for n in range(count):
            entry = xref[entries_at + 20 * n:entries_at + 20 * (n + 1)]
            assert len(entry) == 20 and entry[-2:] in (b"\r\n", b" \n"), entry
            offset, gen, kind = entry[:10], entry[11:16], entry[17:18]
            if n == 0:
                assert kind == b"f"
            else:
                assert kind == b"n" and gen == b"00000"
                self.offsets[n] = int(offset)
        trailer_at = entries_at + 20 * count
        self.trailer = xref[trailer_at:].split(b"startxref")[0].decode("latin-1")
        assert self.trailer.startswith("trailer\n<<")
        self.objects = {n: self._read(n) for n in self.offsets}

    def _read(self, number: int) -> PdfObject:
        at = self.offsets[number]
        head = f"{number} 0 obj\n".encode()
        assert self.data[at:at + len(head)] == head, (number, self.data[at:at + 20])
        body_at = at + len(head)
        s = self.data.find(b"stream\n", body_at)
        e = self.data.find(b"endobj", body_at)
        if s == -1 or s > e:
            return PdfObject(number, self.data[body_at:e].decode("latin-1"), None)
        text = self.data[body_at:s].decode("latin-1")
        length = self.value(text, "Length", raw=True)
        if length.endswith(" 0 R"):
            length = self._read(int(length.split()[0])).text.strip()
        data = self.data[s + 7:s + 7 + int(length)]
        after = s + 7 + int(length)
        assert self.data[after:after + 10] == b"\nendstream", (number, "Length does not match")
        return PdfObject(number, text, data)

    @staticmethod
    def value(text: str, key: str, raw: bool = False) -> str:
        m = re.search(rf"/{key}\s+(\d+ 0 R|/\w+|\([^)]*\)|\[[^\]]*\]|-?[\d.]+)", text)
        assert m, f"/{key} missing in {text!r}"
        return m.group(1)

    def ref(self, text: str, key: str) -> PdfObject:
        value = self.value(text, key)
        assert value.endswith(" 0 R"), value
        return self.objects[int(value.split()[0])]

    def decoded(self, obj: PdfObject) -> bytes:
        if "/FlateDecode" in obj.text:
            return zlib.decompress(obj.stream)
        return obj.stream

    @property
    def catalog(self) -> PdfObject:
        return self.ref(self.trailer, "Root")

    def pages(self) -> list[PdfObject]:
        out = []

        def walk(node):
            if "/Type /Pages" in node.text:
                kids = re.findall(r"(\d+) 0 R", self.value(node.text, "Kids"))
                for k in kids:
                    walk(self.objects[int(k)])
            else:
                assert "/Type /Page" in node.text
                out.append(node)

        walk(self.ref(self.catalog.text, "Pages"))
        return out
