"""Soak: many scans in a row against one gateway; prints how its memory and descriptors move. Asserts nothing.

    .venv/bin/python bench/soak.py                        # 2,000 scans of mixed sizes
    .venv/bin/python bench/soak.py --a4-600 --scans 100   # 100 full A4 pages, 600 dpi colour

Scans go through plain HTTP (CreateScanJob + RetrieveImage, read to the end)
and, every ``--airscan-every`` scans, through sane-airscan (``scanimage``, the
real WSD client). The mixed run cycles through tiny, small and A4 scans in
several formats, feeder batches included. After each scan (and a short
pause, ``--settle``: the job ends just after its last byte) the gateway's
VmRSS and open descriptors are sampled.

Printed: RSS after the first scan, after the last, and its peak; the slope of
RSS per 100 scans by least squares over the scans after the first tenth
(start-up caches warm up in those), over the second half, and over all; the
same for the descriptor count.
A flat gateway shows a slope of a few KiB per 100 scans and no descriptor
drift.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.airscan import client_config, scanimage  # noqa: E402
from tests.support.gateway_process import GatewayProcess  # noqa: E402
from tests.support.soap_client import create_job, job_of, open_retrieve, ticket  # noqa: E402

A4 = (0, 0, 8268, 11693)
TEST_CONF = 'geometry_max 300.0\ntest-picture "Color pattern"\n'
MIXED = [  # (name, ticket arguments); a feeder batch has images > 1
    ("tiny grey png", dict(fmt="png", color="Grayscale8", dpi=75, region=(0, 0, 1000, 1000))),
    ("small colour jfif", dict(fmt="jfif", color="RGB24", dpi=150, region=(0, 0, 4000, 4000))),
    ("tiny b/w tiff-g4", dict(fmt="tiff-single-g4", color="BlackAndWhite1", dpi=150, region=(0, 0, 2000, 2000))),
    ("A4 colour png 300", dict(fmt="png", color="RGB24", dpi=300, region=A4)),
    ("tiny colour dib", dict(fmt="dib", color="RGB24", dpi=75, region=(0, 0, 2000, 2000))),
    ("feeder 3 sheets grey pdf-a", dict(fmt="pdf-a", color="Grayscale8", dpi=100, region=(0, 0, 4000, 4000),
                                        source="ADF", images=3)),
    ("A4 grey jfif 200", dict(fmt="jfif", color="Grayscale8", dpi=200, region=A4)),
    ("tiny grey png", dict(fmt="png", color="Grayscale8", dpi=75, region=(0, 0, 1000, 1000))),
]
A4_600 = [("A4 colour png 600", dict(fmt="png", color="RGB24", dpi=600, region=A4))]


def status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def descriptors(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def http_scan(gw: GatewayProcess, args: dict) -> int:
    """One job over plain HTTP; every image retrieved and read to the end. Returns the bytes received."""
    images = args.get("images") or 1
    job_id, token = job_of(create_job(gw.scan_url, ticket(**args)))
    received = 0
    for _ in range(images):
        conn, response = open_retrieve(gw.scan_url, job_id, token, timeout=600)
        if response.status != 200:
            response.read()
            conn.close()
            break
        while chunk := response.read1(1 << 20):
            received += len(chunk)
        conn.close()
    return received


def airscan_scan(client: Path, workdir: Path, dpi: int) -> int:
    out = workdir / "airscan.png"
    done = scanimage(client, "--mode", "Color", "--resolution", str(dpi), "-x", "210", "-y", "297",
                     "--format=png", "-o", str(out), timeout=600)
    if done.returncode != 0:
        raise RuntimeError(done.stderr.decode(errors="replace")[-2000:])
    return out.stat().st_size


def slope(xs: list[float], ys: list[float]) -> float:
    if len(xs) < 2:
        return 0.0
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sxx if sxx else 0.0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scans", type=int, default=2000)
    p.add_argument("--a4-600", action="store_true", help="every scan a full A4 page at 600 dpi colour")
    p.add_argument("--airscan-every", type=int, default=10, help="every Nth scan through sane-airscan (0: never)")
    p.add_argument("--report-every", type=int, default=0, help="print a sample line every N scans")
    p.add_argument("--settle", type=float, default=0.05, help="seconds after each scan before sampling")
    args = p.parse_args()
    plan = A4_600 if args.a4_600 else MIXED
    report_every = args.report_every or max(1, args.scans // 20)

    with tempfile.TemporaryDirectory(prefix="soak-") as tmp:
        workdir = Path(tmp)
        with GatewayProcess(workdir / "gw", test_conf=TEST_CONF) as gw:
            client = client_config(workdir, gw.scan_url)
            pid = gw.proc.pid
            idle_rss = status_kib(pid, "VmRSS")
            samples: list[tuple[int, int, int]] = []  # (scan, rss KiB, descriptors)
            received = 0
            started = time.monotonic()
            print(f"gateway pid {pid}, idle RSS {idle_rss / 1024:.1f} MiB, {descriptors(pid)} descriptors")
            print(f"{'scan':>6} {'kind':<28} {'RSS MiB':>8} {'fds':>4} {'MB recv':>9} {'elapsed':>8}")
            for n in range(1, args.scans + 1):
                name, ticket_args = plan[(n - 1) % len(plan)]
                if args.airscan_every and n % args.airscan_every == 0:
                    name = f"sane-airscan {ticket_args['dpi']} dpi A4"
                    received += airscan_scan(client, workdir, ticket_args["dpi"])
                else:
                    received += http_scan(gw, ticket_args)
                time.sleep(args.settle)  # the job ends and the device is released just after the last byte
                samples.append((n, status_kib(pid, "VmRSS"), descriptors(pid)))
                if n % report_every == 0 or n == 1:
                    s = samples[-1]
                    print(f"{n:>6} {name:<28} {s[1] / 1024:>8.1f} {s[2]:>4} {received / 1e6:>9.0f} "
                          f"{time.monotonic() - started:>7.0f}s", flush=True)
            if gw.proc.poll() is not None:
                raise SystemExit("the gateway died during the soak")
            peak = status_kib(pid, "VmHWM")

    xs = [s[0] for s in samples]
    rss = [s[1] for s in samples]
    fds = [s[2] for s in samples]
    warm = max(1, len(samples) // 10)
    print()
    through = f"every {args.airscan_every}th through sane-airscan" if args.airscan_every else "all over HTTP"
    print(f"scans: {len(samples)} ({'A4 600 dpi colour' if args.a4_600 else 'mixed'}, {through}), "
          f"{received / 1e9:.2f} GB received, {time.monotonic() - started:.0f} s")
    print(f"RSS: idle {idle_rss / 1024:.1f} MiB, after scan 1 {rss[0] / 1024:.1f} MiB, "
          f"after scan {warm} {rss[warm - 1] / 1024:.1f} MiB, after the last {rss[-1] / 1024:.1f} MiB, "
          f"peak {peak / 1024:.1f} MiB")
    half = len(samples) // 2
    print(f"RSS slope: {100 * slope(xs[warm:], rss[warm:]):+.1f} KiB per 100 scans after the first {warm}, "
          f"{100 * slope(xs[half:], rss[half:]):+.1f} over the second half, {100 * slope(xs, rss):+.1f} over all")
    print(f"descriptors: first {fds[0]}, last {fds[-1]}, max {max(fds)}; slope "
          f"{100 * slope(xs[warm:], fds[warm:]):+.2f} per 100 scans after the first {warm}")


if __name__ == "__main__":
    main()
