"""Container liveness probe (Docker HEALTHCHECK): GET /healthz on the local gunicorn.

Django answers 400 to a Host header outside ALLOWED_HOSTS, so the probe presents the first
concrete entry of ALLOWED_HOSTS rather than 127.0.0.1. Standard library only: it must stay
cheap, as it runs every 30 seconds.
"""

from __future__ import annotations

import os
import sys
import urllib.request


def _host_header() -> str:
    for host in os.environ.get("ALLOWED_HOSTS", "").split(","):
        host = host.strip().lstrip(".")  # ".example.com" also allows "example.com"
        if host and host != "*":
            return host
    return "localhost"


def main() -> int:
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
