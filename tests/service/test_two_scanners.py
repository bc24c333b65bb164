"""Two scanners in one gateway: SANE's test:0 and test:1 scanning at the same moment."""

import io
import threading

from PIL import Image

from tests.support.soap_client import create_job, job_of, retrieve, ticket


def scan_both_at_once(gw, urls):
    """CreateScanJob on each scanner, then both RetrieveImage requests released at the same instant."""
    jobs = [job_of(create_job(url, ticket(fmt="png", color="Grayscale8", dpi=75, region=(0, 0, 2000, 2000))))
            for url in urls]
    barrier = threading.Barrier(len(urls))
    results = [None] * len(urls)

    def one(i):
        barrier.wait()
        try:
            results[i] = retrieve(urls[i], *jobs[i])
        except OSError as e:
            results[i] = e
    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(len(urls))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(25)
    return results


def test_two_scans_started_at_the_same_instant_on_two_scanners_both_arrive_whole(gateway):
    urls = [f"http://{gateway.host}:{gateway.port}/{gateway.uuids[name]}/scan" for name in ("test:0", "test:1")]
    for attempt in range(100):
        results = scan_both_at_once(gateway, urls)
        for url, r in zip(urls, results):
            assert r is not None and not isinstance(r, Exception), f"attempt {attempt}: {url}: {r!r}"
            assert r.status == 200, f"attempt {attempt}: {r.body[:600]!r}"
            assert Image.open(io.BytesIO(r.image)).size == (150, 150)
