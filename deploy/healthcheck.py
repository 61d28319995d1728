"""Container liveness probes (Docker HEALTHCHECK).

``healthcheck.py`` (web): GET /healthz on the local gunicorn.
``healthcheck.py worker``: the Celery worker's watchdog heartbeat
(``WORKER_HEARTBEAT_FILE``, see observability/watchdog.py) is fresh and does not report a
stalled consumer. ``celery inspect ping`` is no liveness check: the worker's control channel
answers while its task consumer has stopped.

Django answers 400 to a Host header outside ALLOWED_HOSTS, so the probe presents the first
concrete entry of ALLOWED_HOSTS rather than 127.0.0.1. Standard library only: it must stay
cheap, as it runs every 30 seconds.
"""

from __future__ import annotations

import json
import os
import sys
import time
import urllib.request


def _host_header() -> str:
    for host in os.environ.get("ALLOWED_HOSTS", "").split(","):
        host = host.strip().lstrip(".")  # ".example.com" also allows "example.com"
        if host and host != "*":
            return host
    return "localhost"


def worker() -> int:
    path = os.environ.get("WORKER_HEARTBEAT_FILE", "/tmp/celery-worker-heartbeat.json")
    max_age = float(os.environ.get("WORKER_HEARTBEAT_MAX_AGE", "60"))
    try:
        with open(path, encoding="utf-8") as handle:
            report = json.load(handle)
        age = time.time() - float(report["at"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        print(f"worker heartbeat {path}: {exc}", file=sys.stderr)
        return 1
    if age > max_age:
        print(f"worker heartbeat {path} is {age:.0f} s old", file=sys.stderr)
        return 1
    if report.get("stalled"):
        print(
            f"worker stalled for {report.get('stalled_seconds', 0):.0f} s with "
            f"{report.get('backlog')} messages waiting",
            file=sys.stderr,
        )
        return 1
    return 0


def main() -> int:
    if sys.argv[1:] == ["worker"]:
        return worker()
    url = f"http://127.0.0.1:{os.environ.get('PORT', '8000')}/healthz"
    request = urllib.request.Request(url, headers={"Host": _host_header()})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # ignore *_PROXY
    try:
        with opener.open(request, timeout=4) as response:
            return 0 if response.status == 200 else 1
    except Exception as exc:  # noqa: BLE001 - any failure means unhealthy
        print(f"healthcheck {url}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
