"""What cropping costs: an A4 300 dpi image encoded from a frame of its own size, and cut from a larger frame.

A scanner on coarse steps delivers a frame a few pixels larger than the
ticket's image; the encoders drop rows as slices and read columns in place
(lineart that starts inside a byte is shifted, one row at a time). Run from
the repository root after building in place:

    /usr/bin/python3 bench/cropping.py [png tiff-single-uncompressed tiff-single-g4 jfif]
"""
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from gateway.imaging import RasterSpec, create_document_encoder  # noqa: E402

WIDTH, HEIGHT, DPI = 2480, 3508, 300
MARGIN = (5, 7, 11, 13)  # extra frame pixels left, top, right, bottom: an offset inside a byte for lineart
STRIP_ROWS = 64
REPEAT = 3


def frame(width: int, height: int, channels: int, depth: int) -> tuple[bytes, int]:
    bpl = (width * channels * depth + 7) // 8
    row = bytes((i * 37 + (i // 97) * 11) & 0xFF for i in range(bpl))
    return row * height, bpl


def encode(fmt: str, spec: RasterSpec, data: bytes, bpl: int) -> tuple[float, int]:
    best, size = float("inf"), 0
    step = STRIP_ROWS * bpl
    for _ in range(REPEAT):
        start = time.perf_counter()
        doc = create_document_encoder(fmt)
        out = len(doc.start_page(spec))
        out += sum(len(doc.feed(memoryview(data)[i:i + step])) for i in range(0, len(data), step))
        out += len(doc.end_page()) + len(doc.finish())
        best, size = min(best, time.perf_counter() - start), out
    return best, size


def main(formats: list[str]) -> None:
    left, top, right, bottom = MARGIN
    print(f"{WIDTH} x {HEIGHT} image; frame {left + right} x {top + bottom} pixels larger when cropped")
    for fmt in formats:
        channels, depth = (1, 1) if fmt.endswith("g4") else (3, 8)
        exact, bpl = frame(WIDTH, HEIGHT, channels, depth)
        plain = RasterSpec(WIDTH, HEIGHT, bpl, channels, depth, DPI, DPI)
        t_exact, n_exact = encode(fmt, plain, exact, bpl)
        big, big_bpl = frame(WIDTH + left + right, HEIGHT + top + bottom, channels, depth)
        cropped = RasterSpec(WIDTH, HEIGHT, big_bpl, channels, depth, DPI, DPI, x_offset=left, y_offset=top,
                             extra_rows=bottom)
        t_crop, n_crop = encode(fmt, cropped, big, big_bpl)
        print(f"{fmt:26s} exact frame {t_exact * 1000:7.1f} ms ({n_exact / 1e6:5.1f} MB)   "
              f"cropped {t_crop * 1000:7.1f} ms ({n_crop / 1e6:5.1f} MB)   {t_crop / t_exact:5.2f}x")


if __name__ == "__main__":
    main(sys.argv[1:] or ["png", "tiff-single-uncompressed", "tiff-single-g4", "jfif"])
