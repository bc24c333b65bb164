"""A PC on the lab's LAN talking WSD Scan to the gateway; one request per run, the answer as JSON on stdout.

    lan_client.py subscribe SCAN_URL NOTIFY_TO [--source ADDR]
    lan_client.py create SCAN_URL [--source ADDR]
    lan_client.py cancel SCAN_URL JOB_ID [--source ADDR]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.support.sinks import subscribe  # noqa: E402
from tests.support.soap_client import call, create_job, el, job_of, ticket  # noqa: E402


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("command", choices=("subscribe", "create", "cancel"))
    p.add_argument("url")
    p.add_argument("argument", nargs="?")
    p.add_argument("--source")
    args = p.parse_args()
    if args.command == "subscribe":
        r = subscribe(args.url, args.argument, ("JobStatusEvent",), source=args.source)
    elif args.command == "create":
        r = create_job(args.url, ticket(dpi=75), source=args.source)
    else:
        r = call(args.url, "CancelJob", el("CancelJobRequest", el("JobId", text=args.argument)), source=args.source)
    out = {"status": r.status, "subcode": r.fault_subcode if r.status >= 400 else None,
           "reason": r.text(".//s:Fault/s:Reason/s:Text") if r.status >= 400 else None}
    if args.command == "create" and r.status == 200:
        out["job_id"] = job_of(r)[0]
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
