"""End-to-end figures of the image path: overlap, streaming and memory. Prints a table; asserts nothing.

    .venv/bin/python bench/end_to_end.py [--runs 3] [--dpi 300 600]

- overlap: ``scanimage`` through sane-airscan against the gateway (which asks
  for PNG), divided by a raw ``scanimage -d test`` read of the same frame, with
  the test backend slowed down like a USB scanner (target <= 1.10 at 300 dpi,
  <= 1.15 at 600 dpi colour);
- streaming: time to the first image byte / total transfer time of one
  RetrieveImage, 600 dpi colour, slow scanner (target <= 0.05);
- CPU: the gateway's CPU time for one jfif page (q85, A4 300 dpi, fast
  scanner) divided by what the bare parts cost: scanimage reading the same
  frame plus Debian's Pillow (the same libjpeg-turbo) compressing it whole
  (target <= 1.25);
- memory: the gateway's peak RSS while serving a scan minus its idle RSS
  (target <= 8 MB, and 300 and 600 dpi within 4 MB of each other).

Each figure is the median of ``--runs`` runs, measured side by side in one run.
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.airscan import client_config  # noqa: E402
from tests.support.gateway_process import GatewayProcess  # noqa: E402
from tests.support.soap_client import create_job, job_of, open_retrieve, ticket  # noqa: E402

A4_MM = (210, 297)
A4_THOU = (8268, 11693)
SLOW = ('geometry_max 300.0\ntest-picture "Color pattern"\nread-delay true\nread-delay-duration 22000\n')
FAST = 'geometry_max 300.0\ntest-picture "Color pattern"\n'
TIMEOUT = 600


def raw_read(config_dir: Path, dpi: int, out: Path) -> float:
    t = time.monotonic()
    subprocess.run(["scanimage", "-d", "test:0", "--mode", "Color", "--resolution", str(dpi), "-x", str(A4_MM[0]),
                    "-y", str(A4_MM[1]), "--format=pnm", "-o", str(out)],
                   env=dict(os.environ, SANE_CONFIG_DIR=str(config_dir)), check=True, timeout=TIMEOUT,
                   capture_output=True)
    return time.monotonic() - t


def airscan_scan(client: Path, dpi: int, out: Path) -> float:
    t = time.monotonic()
    subprocess.run(["scanimage", "-d", "airscan:w0:Gateway", "--mode", "Color", "--resolution", str(dpi),
                    "-x", str(A4_MM[0]), "-y", str(A4_MM[1]), "--format=pnm", "-o", str(out)],
                   env=dict(os.environ, SANE_CONFIG_DIR=str(client)), check=True, timeout=TIMEOUT,
                   capture_output=True)
    return time.monotonic() - t


def rss_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def first_byte_ratio(gw: GatewayProcess, dpi: int) -> tuple[float, int]:
    """(time to first image byte / total, bytes) for one RetrieveImage."""
    job_id, token = job_of(create_job(gw.scan_url, ticket(fmt="png", color="RGB24", dpi=dpi,
                                                         region=(0, 0, *A4_THOU))))
    start = time.monotonic()
    conn, response = open_retrieve(gw.scan_url, job_id, token, timeout=TIMEOUT)
    received, first_image = b"", None
    total = 0
    while chunk := response.read1(1 << 16):
        total += len(chunk)
        if first_image is None:
            received += chunk
            if b"\x89PNG" in received:
                first_image = time.monotonic()
    end = time.monotonic()
    conn.close()
    return (first_image - start) / (end - start), total


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def jpeg_cpu_ratio(work: Path, sane_dir: Path, run: int) -> tuple[float, float, float]:
    """(gateway CPU for a jfif q85 A4 300 dpi page, SANE read + bare libjpeg CPU for the same page, ratio)."""
    from PIL import Image  # Debian's python3-pil: the same libjpeg-turbo as the gateway links
    before = children_cpu()
    raw_read(sane_dir, 300, work / "raw-fast.pnm")
    read_cpu = children_cpu() - before
    frame = Image.open(work / "raw-fast.pnm")
    frame.load()
    t = time.process_time()
    frame.save(io.BytesIO(), "JPEG", quality=85)
    bare = read_cpu + time.process_time() - t
    with GatewayProcess(work / f"gw-cpu-{run}", test_conf=FAST) as gw:
        job_id, token = job_of(create_job(gw.scan_url, ticket(fmt="jfif", quality=85, color="RGB24", dpi=300,
                                                             region=(0, 0, *A4_THOU))))
        start = cpu_seconds(gw.proc.pid)
        conn, response = open_retrieve(gw.scan_url, job_id, token, timeout=TIMEOUT)
        response.read()
        conn.close()
        used = cpu_seconds(gw.proc.pid) - start
    return used, bare, used / bare


def median(values):
    return statistics.median(values)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--dpi", type=int, nargs="+", default=[300, 600])
    args = p.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sane-wsd-bench-"))
    sane_dir = work / "sane"
    sane_dir.mkdir()
    (sane_dir / "dll.conf").write_text("test\n")
    (sane_dir / "test.conf").write_text(SLOW)
    rows = []

    for dpi in args.dpi:
        raw, e2e, peaks = [], [], []
        for run in range(args.runs):
            raw.append(raw_read(sane_dir, dpi, work / "raw.pnm"))
            with GatewayProcess(work / f"gw-{dpi}-{run}", test_conf=SLOW) as gw:
                client = client_config(work / f"client-{dpi}-{run}", gw.scan_url)
                time.sleep(0.5)
                idle = rss_kib(gw.proc.pid, "VmRSS")
                e2e.append(airscan_scan(client, dpi, work / "e2e.pnm"))
                peaks.append((rss_kib(gw.proc.pid, "VmHWM") - idle) / 1024)
        ratio = median(e2e) / median(raw)
        target = 1.10 if dpi <= 300 else 1.15
        rows.append((f"overlap {dpi} dpi colour, slow scanner", f"{median(e2e):.2f} s / {median(raw):.2f} s",
                     f"{ratio:.3f}", f"<= {target}", ratio <= target))
        rows.append((f"memory {dpi} dpi colour: peak - idle RSS", f"{median(peaks):.1f} MiB",
                     f"{median(peaks):.1f}", "<= 8", median(peaks) <= 8))
    memory = [float(r[2]) for r in rows if r[0].startswith("memory")]
    if len(memory) >= 2:
        spread = max(memory) - min(memory)
        rows.append(("memory: 300 vs 600 dpi spread", f"{spread:.1f} MiB", f"{spread:.1f}", "<= 4", spread <= 4))

    fast_dir = work / "sane-fast"
    fast_dir.mkdir()
    (fast_dir / "dll.conf").write_text("test\n")
    (fast_dir / "test.conf").write_text(FAST)
    cpu = [jpeg_cpu_ratio(work, fast_dir, run) for run in range(args.runs)]
    ratio = median(c[2] for c in cpu)
    rows.append(("gateway CPU per jfif page / SANE read + libjpeg", f"{median(c[0] for c in cpu):.3f} s / "
                 f"{median(c[1] for c in cpu):.3f} s", f"{ratio:.3f}", "<= 1.25", ratio <= 1.25))

    ratios = []
    for run in range(args.runs):
        with GatewayProcess(work / f"gw-stream-{run}", test_conf=SLOW) as gw:
            ratio, size = first_byte_ratio(gw, max(args.dpi))
            ratios.append(ratio)
    rows.append((f"streaming {max(args.dpi)} dpi colour: first byte / total", f"{size / 1e6:.1f} MB",
                 f"{median(ratios):.4f}", "<= 0.05", median(ratios) <= 0.05))

    width = max(len(r[0]) for r in rows)
    print(f"{'figure':{width}}  {'measured':>22}  {'value':>8}  {'target':>7}  verdict")
    for name, measured, value, target, ok in rows:
        print(f"{name:{width}}  {measured:>22}  {value:>8}  {target:>7}  {'PASS' if ok else 'MISS'}")
    print(f"(median of {args.runs} runs; test backend \"Color pattern\", A4, read-delay 22000 us)")


if __name__ == "__main__":
    main()
