"""eSCL NextDocument figures: time to the first image byte, transfer time and throughput. Prints; asserts nothing.

    .venv/bin/python bench/escl_next_document.py [--runs 3] [--dpi 300 600]

For each resolution, A4 colour from SANE's test device, as PNG and JPEG:

- first byte: from sending GET NextDocument to the first byte of the image,
  on a fast scanner (the gateway's own latency: setting the scan going and
  encoding the first rows) and on a slow one (read-delay, like a USB scanner:
  it must still be a small part of the whole, since the image streams while
  it is scanned);
- total and throughput: the whole image, in seconds and MB/s of image file;
- for comparison, the same page through WSD's RetrieveImage (first byte of
  the MIME part that holds the image), so eSCL adds nothing of its own;
- sane-airscan over eSCL vs over WSD: ``scanimage`` wall time for the same
  page (the ratio should be about 1).

Each figure is the median of ``--runs`` runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.airscan import client_config  # noqa: E402
from tests.support.escl_client import create, escl_root, open_document, request, settings  # noqa: E402
from tests.support.gateway_process import GatewayProcess  # noqa: E402
from tests.support.soap_client import create_job, job_of, open_retrieve, ticket  # noqa: E402

A4_300 = (2480, 3508)
A4_THOU = (8268, 11693)
A4_MM = (210, 297)
FAST = 'geometry_max 300.0\ntest-picture "Color pattern"\n'
SLOW = 'geometry_max 300.0\ntest-picture "Color pattern"\nread-delay true\nread-delay-duration 22000\n'
TIMEOUT = 600
MAGIC = {"image/png": b"\x89PNG", "image/jpeg": b"\xff\xd8\xff"}
WSD_FORMAT = {"image/png": "png", "image/jpeg": "jfif"}


def escl_page(gw: GatewayProcess, mime: str, dpi: int) -> tuple[float, float, int]:
    """(seconds to the first image byte, seconds in all, bytes) of one NextDocument."""
    answer = create(escl_root(gw), settings(color="RGB24", dpi=dpi, mime=mime, region=(0, 0, *A4_300)))
    assert answer.status == 201, answer.body
    job = answer.header("location")
    start = time.monotonic()
    conn, response = open_document(job, timeout=TIMEOUT)
    first = response.read1(1 << 16)
    first_at = time.monotonic()
    total = len(first)
    while chunk := response.read1(1 << 16):
        total += len(chunk)
    end = time.monotonic()
    conn.close()
    assert first.startswith(MAGIC[mime])
    request("DELETE", job)  # harmless after the end, as sane-airscan does
    return first_at - start, end - start, total


def wsd_page(gw: GatewayProcess, mime: str, dpi: int) -> tuple[float, float, int]:
    job_id, token = job_of(create_job(gw.scan_url, ticket(fmt=WSD_FORMAT[mime], color="RGB24", dpi=dpi,
                                                         region=(0, 0, *A4_THOU))))
    start = time.monotonic()
    conn, response = open_retrieve(gw.scan_url, job_id, token, timeout=TIMEOUT)
    seen, first_at, total = b"", None, 0
    while chunk := response.read1(1 << 16):
        total += len(chunk)
        if first_at is None:
            seen += chunk
            if MAGIC[mime] in seen:
                first_at = time.monotonic()
    end = time.monotonic()
    conn.close()
    return first_at - start, end - start, total


def airscan_seconds(client: Path, device: str, dpi: int, out: Path) -> float:
    t = time.monotonic()
    subprocess.run(["scanimage", "-d", device, "--mode", "Color", "--resolution", str(dpi), "-x", str(A4_MM[0]),
                    "-y", str(A4_MM[1]), "--format=pnm", "-o", str(out)],
                   env=dict(os.environ, SANE_CONFIG_DIR=str(client)), check=True, timeout=TIMEOUT,
                   capture_output=True)
    return time.monotonic() - t


def med(values) -> float:
    return statistics.median(values)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--dpi", type=int, nargs="+", default=[300, 600])
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sane-wsd-bench-escl-"))
    rows = []
    for scanner, conf in (("fast", FAST), ("slow", SLOW)):
        with GatewayProcess(work / f"gw-{scanner}", test_conf=conf) as gw:
            for dpi in args.dpi:
                for mime in ("image/png", "image/jpeg"):
                    escl = [escl_page(gw, mime, dpi) for _ in range(args.runs)]
                    wsd = [wsd_page(gw, mime, dpi) for _ in range(args.runs)]
                    first, total, size = med(e[0] for e in escl), med(e[1] for e in escl), med(e[2] for e in escl)
                    rows.append((f"{scanner} scanner, {dpi} dpi colour {mime.split('/')[1]}",
                                 f"{first * 1000:.0f} ms", f"{total:.2f} s", f"{size / 1e6 / total:.1f} MB/s",
                                 f"{first / total:.3f}", f"{med(w[0] for w in wsd) * 1000:.0f} ms",
                                 f"{med(w[1] for w in wsd):.2f} s"))
            if scanner == "slow":
                escl_client = client_config(work / "client-escl", escl_root(gw) + "/", protocol="escl")
                wsd_client = client_config(work / "client-wsd", gw.scan_url)
                dpi = min(args.dpi)
                e = med(airscan_seconds(escl_client, "airscan:e0:Gateway", dpi, work / "e.pnm")
                        for _ in range(args.runs))
                w = med(airscan_seconds(wsd_client, "airscan:w0:Gateway", dpi, work / "w.pnm")
                        for _ in range(args.runs))
    heads = ("page", "first byte", "total", "throughput", "first/total", "WSD first", "WSD total")
    widths = [max(len(str(r[i])) for r in rows + [heads]) for i in range(len(heads))]
    for row in [heads] + rows:
        print("  ".join(f"{str(v):>{widths[i]}}" if i else f"{str(v):{widths[i]}}" for i, v in enumerate(row)))
    print(f"sane-airscan scanimage, slow scanner, A4 {min(args.dpi)} dpi colour: eSCL {e:.2f} s, WSD {w:.2f} s, "
          f"ratio {e / w:.3f}")
    print(f"(median of {args.runs} runs; test backend \"Color pattern\"; slow = read-delay 22000 us)")


if __name__ == "__main__":
    main()
