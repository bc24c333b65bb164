"""Benchmark the streaming JPEG and PNG encoders against whole-image Pillow.

    .venv/bin/python bench/encoders.py [--runs N] [--only jpeg|png]

Pillow here must be Debian's python3-pil (9.4, linked to Debian's
libjpeg-turbo 2.1.5 and zlib), so that both sides run the same codec
library; a pip wheel bundles other builds.  The script says which it uses.

Frames, A4 at 300 and 600 dpi, colour and grey:

* ``sane``: SANE's test device, "Color pattern", read once with
  scanimage (a private SANE_CONFIG_DIR enables only the test backend with
  geometry_max 300 mm) and cached under /tmp/sane-wsd-gateway-bench.
* ``doc``: a synthetic document page -- paper, text-like speckle in bands,
  a smooth photo block.

Ours is fed in strips of 64 rows as the scanner delivers them, through
the document encoder (Python wrapper included); Pillow gets the whole frame
(Image.frombytes outside the timing) and saves it with the same options.
Each run times ours and Pillow's side by side (alternating which goes
first, after one warm-up pair); figures are medians over
the runs, and each ratio is of the medians.

Targets:
  JPEG q85: wall time ours / Pillow <= 1.10 and CPU time ours / Pillow <= 1.25
  PNG:      wall time ours / Pillow compress_level=1 <= 1.00, size <= 1.10x
"""
from __future__ import annotations

import argparse
import io
import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import PIL
from PIL import Image, features

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from gateway.imaging import RasterSpec, create_document_encoder  # noqa: E402

CACHE = Path("/tmp/sane-wsd-gateway-bench")
STRIP_ROWS = 64
A4_MM = (210, 297)
JPEG_TIME, JPEG_CPU, PNG_TIME, PNG_SIZE = 1.10, 1.25, 1.00, 1.10


# ------------------------------------------------------------------ frames

def a4_pixels(dpi: int) -> tuple[int, int]:
    return round(A4_MM[0] / 25.4 * dpi), round(A4_MM[1] / 25.4 * dpi)


def sane_frame(mode: str, dpi: int) -> Image.Image:
    path = CACHE / f"sane-{mode.lower()}-{dpi}.pnm"
    if not path.exists():
        CACHE.mkdir(exist_ok=True)
        conf = Path(tempfile.mkdtemp(prefix="sane-conf-", dir=CACHE))
        (conf / "dll.conf").write_text("test\n")
        (conf / "test.conf").write_text("geometry_max 300.0\n")
        tmp = path.with_suffix(".part")
        with open(tmp, "wb") as out:
            subprocess.run(["scanimage", "-d", "test", "--mode", mode, "--resolution", str(dpi),
                            "-x", str(A4_MM[0]), "-y", str(A4_MM[1]),
                            "--test-picture", "Color pattern", "--format=pnm"],
                           stdout=out, check=True, env={**os.environ, "SANE_CONFIG_DIR": str(conf)})
        tmp.rename(path)
    image = Image.open(path)
    image.load()
    return image


def doc_frame(dpi: int) -> Image.Image:
    path = CACHE / f"doc-color-{dpi}.pnm"
    if path.exists():
        image = Image.open(path)
        image.load()
        return image
    width, height = a4_pixels(dpi)
    s = dpi / 300
    rnd = random.Random(11)
    paper = bytes([250, 250, 247]) * width
    text_rows = []
    for _ in range(round(24 * s)):
        row = bytearray(paper)
        for _ in range(round(300 * s)):
            x = rnd.randrange(round(200 * s), width - round(220 * s))
            run, ink = rnd.randrange(2, round(12 * s)), rnd.randrange(20, 90)
            row[3 * x:3 * (x + run)] = bytes([ink, ink, ink + 5]) * run
        text_rows.append(bytes(row))
    photo_rows = []
    x0, x1 = round(600 * s), round(1800 * s)
    for y in range(round(256 * s)):
        row = bytearray(paper)
        row[3 * x0:3 * x1] = bytes(
            int(127 + 120 * math.sin(x / (37 * s) + c + y / (23 * s)) * math.cos(y / (41 * s) - c))
            for x in range(x1 - x0) for c in range(3))
        photo_rows.append(bytes(row))
    rows = []
    for y in range(height):
        if 1200 * s <= y < 2400 * s:
            rows.append(photo_rows[y % len(photo_rows)])
        elif (y // round(40 * s)) % 2 and 300 * s < y < 3300 * s:
            rows.append(text_rows[y % len(text_rows)])
        else:
            rows.append(paper)
    image = Image.frombytes("RGB", (width, height), b"".join(rows))
    CACHE.mkdir(exist_ok=True)
    image.save(path)
    return image


def frames(dpis: list[int]):
    for dpi in dpis:
        for name, colour in (("sane", sane_frame("Color", dpi)), ("doc", doc_frame(dpi))):
            grey = sane_frame("Gray", dpi) if name == "sane" else colour.convert("L")
            for image in (colour, grey):
                yield f"{name} {'colour' if image.mode == 'RGB' else 'grey'} {dpi}", image, dpi


# ----------------------------------------------------------------- encoding

def ours(fmt: str, image: Image.Image, dpi: int, raw: bytes) -> tuple[float, float, int]:
    channels = 3 if image.mode == "RGB" else 1
    width, height = image.size
    spec = RasterSpec(width, height, width * channels, channels, 8, dpi, dpi)
    step = STRIP_ROWS * spec.bytes_per_line
    view = memoryview(raw)
    t0, c0 = time.perf_counter(), time.process_time()
    doc = create_document_encoder(fmt, quality=85)
    size = len(doc.start_page(spec))
    for i in range(0, len(raw), step):
        size += len(doc.feed(view[i:i + step]))
    size += len(doc.end_page()) + len(doc.finish())
    return time.perf_counter() - t0, time.process_time() - c0, size


def pillow(fmt: str, image: Image.Image, dpi: int, raw: bytes) -> tuple[float, float, int]:
    name, options = {"jfif": ("JPEG", dict(quality=85)),
                     "png": ("PNG", dict(compress_level=1))}[fmt]
    out = io.BytesIO()
    t0, c0 = time.perf_counter(), time.process_time()
    image.save(out, name, dpi=(dpi, dpi), **options)
    return time.perf_counter() - t0, time.process_time() - c0, out.tell()


def measure(fmt: str, image: Image.Image, dpi: int, runs: int):
    raw = image.tobytes()
    mine, theirs = [], []
    for run in range(runs + 1):
        pair = [ours(fmt, image, dpi, raw), pillow(fmt, image, dpi, raw)]
        if run % 2:  # alternate who goes first, so that neither always meets warm caches
            pair = [pillow(fmt, image, dpi, raw), ours(fmt, image, dpi, raw)][::-1]
        if run:  # the first pair only warms up
            mine.append(pair[0])
            theirs.append(pair[1])

    def med(results, i):
        return statistics.median(r[i] for r in results)

    return [med(mine, i) for i in range(3)], [med(theirs, i) for i in range(3)]


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--dpi", type=int, nargs="+", default=[300, 600])
    parser.add_argument("--only", choices=["jpeg", "png"])
    args = parser.parse_args()

    print(f"Pillow {PIL.__version__} from {Path(PIL.__file__).parent}, "
          f"libjpeg-turbo {features.version('libjpeg_turbo')}, zlib {features.version('zlib')}")
    print(f"medians of {args.runs} runs; ours fed {STRIP_ROWS}-row strips; times in ms\n")
    head = (f"{'format':6} {'frame':17} {'ours ms':>8} {'pil ms':>8} {'time':>6} "
            f"{'ours cpu':>8} {'pil cpu':>8} {'cpu':>6} {'ours MB':>8} {'pil MB':>8} {'size':>6}  result")
    print(head)
    print("-" * len(head))
    misses = 0
    tables = [t for t in ("jpeg", "png") if args.only in (None, t)]
    for table in tables:
        fmt = "jfif" if table == "jpeg" else "png"
        for label, image, dpi in frames(args.dpi):
            (t, c, n), (pt, pc, pn) = measure(fmt, image, dpi, args.runs)
            time_ratio, cpu_ratio, size_ratio = t / pt, c / pc, n / pn
            if table == "jpeg":
                ok = time_ratio <= JPEG_TIME and cpu_ratio <= JPEG_CPU
            else:
                ok = time_ratio <= PNG_TIME and size_ratio <= PNG_SIZE
            misses += not ok
            print(f"{table:6} {label:17} {t * 1e3:8.0f} {pt * 1e3:8.0f} {time_ratio:6.3f} "
                  f"{c * 1e3:8.0f} {pc * 1e3:8.0f} {cpu_ratio:6.3f} {n / 1e6:8.2f} {pn / 1e6:8.2f} "
                  f"{size_ratio:6.3f}  {verdict(ok)}", flush=True)
    print(f"\ntargets: JPEG time <= {JPEG_TIME}, cpu <= {JPEG_CPU}; "
          f"PNG time <= {PNG_TIME}, size <= {PNG_SIZE}")
    print(f"{'ALL PASS' if not misses else f'{misses} MISS'}")
    return 1 if misses else 0


if __name__ == "__main__":
    sys.exit(main())
