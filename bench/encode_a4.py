"""Time the gateway's encoders against Pillow on one A4 300 dpi RGB page.

The page imitates a scanned document: white paper, grey text-like
speckle in bands, a smooth photo block.  The gateway encoders are fed in
strips of 64 rows as the scanner would deliver them; Pillow gets the
whole frame at once.  Run from the repository root after building in place:

    /usr/bin/python3 bench/encode_a4.py [png jfif dib g4]

g4 encodes the page thresholded to lineart (tiff-single-g4 against
Pillow's libtiff group4).
"""
import io
import math
import random
import sys
import time
from pathlib import Path

from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from gateway.imaging import RasterSpec, create_document_encoder

WIDTH, HEIGHT, DPI = 2480, 3508, 300
STRIP_ROWS = 64
PILLOW = {"png": ("PNG", dict(compress_level=1)), "jfif": ("JPEG", dict(quality=85)),
          "dib": ("BMP", {}), "g4": ("TIFF", dict(compression="group4"))}
WSD_NAME = {"g4": "tiff-single-g4"}
WHITE_IS_ONE = bytes(255 - b for b in range(256))


def a4_page() -> bytes:
    rnd = random.Random(11)
    paper = bytes([250, 250, 247]) * WIDTH
    text_rows = []
    for _ in range(24):
        row = bytearray(paper)
        for _ in range(300):
            x, run, ink = rnd.randrange(200, WIDTH - 220), rnd.randrange(2, 12), rnd.randrange(20, 90)
            row[3 * x:3 * (x + run)] = bytes([ink, ink, ink + 5]) * run
        text_rows.append(bytes(row))
    photo_rows = []
    for y in range(256):
        row = bytearray(paper)
        block = bytes(
            int(127 + 120 * math.sin(x / 37 + c + y / 23) * math.cos(y / 41 - c))
            for x in range(1200) for c in range(3))
        row[3 * 600:3 * 1800] = block
        photo_rows.append(bytes(row))
    rows = []
    for y in range(HEIGHT):
        if 1200 <= y < 2400:
            rows.append(photo_rows[y % 256])
        elif (y // 40) % 2 and 300 < y < 3300:
            rows.append(text_rows[y % 24])
        else:
            rows.append(paper)
    return b"".join(rows)


def lineart(frame: bytes) -> bytes:
    """The page at 50 % threshold, as SANE lineart (1 = black)."""
    image = Image.frombytes("RGB", (WIDTH, HEIGHT), frame).convert("L")
    return image.point(lambda v: 255 if v >= 128 else 0).convert("1").tobytes().translate(
        WHITE_IS_ONE)


def gateway_encode(fmt: str, frame: bytes) -> tuple[float, int]:
    if fmt == "g4":
        spec = RasterSpec(WIDTH, HEIGHT, (WIDTH + 7) // 8, 1, 1, DPI, DPI)
    else:
        spec = RasterSpec(WIDTH, HEIGHT, WIDTH * 3, 3, 8, DPI, DPI)
    step = STRIP_ROWS * spec.bytes_per_line
    t0 = time.perf_counter()
    doc = create_document_encoder(WSD_NAME.get(fmt, fmt))
    size = len(doc.start_page(spec))
    size += sum(len(doc.feed(frame[i:i + step])) for i in range(0, len(frame), step))
    size += len(doc.end_page()) + len(doc.finish())
    return time.perf_counter() - t0, size


def pillow_encode(fmt: str, frame: bytes) -> tuple[float, int]:
    name, options = PILLOW[fmt]
    t0 = time.perf_counter()
    out = io.BytesIO()
    if fmt == "g4":
        image = Image.frombytes("1", (WIDTH, HEIGHT), frame.translate(WHITE_IS_ONE))
    else:
        image = Image.frombytes("RGB", (WIDTH, HEIGHT), frame)
    image.save(out, name, dpi=(DPI, DPI), **options)
    return time.perf_counter() - t0, out.tell()


def main(formats: list[str]) -> None:
    rgb = a4_page()
    frames = {"g4": lineart(rgb)}
    print(f"A4 {DPI} dpi, {WIDTH}x{HEIGHT}, {len(rgb) / 1e6:.1f} MB as RGB")
    for fmt in formats:
        frame = frames.get(fmt, rgb)
        for who, encode in (("gateway", gateway_encode), ("pillow", pillow_encode)):
            best = min(encode(fmt, frame) for _ in range(3))
            print(f"{fmt:5} {who:8} {best[0] * 1000:7.0f} ms {best[1] / 1e6:7.2f} MB")


if __name__ == "__main__":
    main(sys.argv[1:] or list(PILLOW))
