"""The network side of webhooks: which addresses a delivery may reach, signing, the POST.

A webhook URL is the caller's to choose, so without a check the server would POST wherever
it is pointed: its own loopback, the cloud metadata address, the private network. An URL is
checked when the endpoint is created and again at every delivery, because what a name
resolves to can change in between. The delivery connects to an address it has just checked
(never resolving the name a second time, which a rebinding DNS server would answer
differently) and sends the name in the Host header and in TLS's SNI, whose certificate is
verified against the name. Redirects are never followed: a 3xx is a failed attempt.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import http.client
import ipaddress
import secrets
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, urlsplit

SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
USER_AGENT = "gamification-webhooks/1"
#: What is kept of a receiver's answer, for the operator's eyes.
EXCERPT_BYTES = 500

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class WebhookUrlError(ValueError):
    """An URL no delivery may go to; ``code`` says why."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail


def secret_new() -> str:
    """Return a new signing secret: ``whsec_`` and the base64 of 32 random bytes."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode()


def signature(*, secret: str, webhook_id: str, timestamp: int, body: bytes) -> str:
    """Return the ``webhook-signature`` of a delivery, as Standard Webhooks defines it."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    signed = b"%s.%d.%s" % (webhook_id.encode(), timestamp, body)
    return "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()


def _embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries and that a host may route to as IPv4."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address.teredo is not None:
        return address.teredo[1]
    if address in ipaddress.IPv6Network("64:ff9b::/96"):  # NAT64
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    return None


#: Ranges refused whatever ``ipaddress`` of this Python thinks of them (its tables of
#: special-purpose ranges have changed between versions).
_FORBIDDEN_NETWORKS = tuple(
    ipaddress.ip_network(network)
    for network in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.0.0.0/24",
        "192.0.2.0/24",
        "192.168.0.0/16",
        "198.18.0.0/15",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/3",
        "::/127",
        "::ffff:0:0/96",
        "64:ff9b:1::/48",
        "100::/64",
        "2001::/23",
        "2001:db8::/32",
        "fc00::/7",
        "fe80::/10",
        "ff00::/8",
    )
)


def address_forbidden(address: IpAddress) -> bool:
    """Whether a delivery must not connect to ``address``: anything but a public unicast one.

    ``is_global`` already excludes private, loopback, link-local, shared (100.64/10),
    reserved and unspecified ranges; multicast is tested apart because some of it is global,
    and an IPv6 address that carries an IPv4 one (mapped, 6to4, Teredo, NAT64) is judged by
    that one too.
    """
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(address)
        if embedded is not None and address_forbidden(embedded):
            return True
    return (
        any(address in network for network in _FORBIDDEN_NETWORKS)
        or not address.is_global
        or address.is_multicast
        or address.is_loopback
        or address.is_link_local
        or address.is_private
        or address.is_reserved
        or address.is_unspecified
    )


def url_parse(url: str) -> SplitResult:
    """Return the parts of an http(s) URL with a host, or raise ``WebhookUrlError``."""
    if not isinstance(url, str) or not url or len(url) > 2000 or url != url.strip():
        raise WebhookUrlError("WEBHOOK_URL_INVALID", "The URL must be 1 to 2,000 characters.")
    if not url.isascii():
        raise WebhookUrlError(
            "WEBHOOK_URL_INVALID",
            "The URL must be ASCII: punycode for a host, percent-encoding for a path.",
        )
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is no number or too large
    except ValueError:
        raise WebhookUrlError("WEBHOOK_URL_INVALID", "The URL cannot be parsed.") from None
    if parts.scheme not in ("http", "https"):
        raise WebhookUrlError("WEBHOOK_URL_INVALID", "The URL must be http or https.")
    if not parts.hostname:
        raise WebhookUrlError("WEBHOOK_URL_INVALID", "The URL has no host.")
    if parts.username is not None or parts.password is not None:
        raise WebhookUrlError("WEBHOOK_URL_INVALID", "The URL must not carry credentials.")
    if parts.fragment:
        raise WebhookUrlError("WEBHOOK_URL_INVALID", "The URL must not have a fragment.")
    if any(ord(c) < 33 or ord(c) == 127 for c in url):
        raise WebhookUrlError("WEBHOOK_URL_INVALID", "The URL must not contain spaces or controls.")
    return parts


def _port(parts: SplitResult) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)


@dataclass(frozen=True, slots=True)
class Resolved:
    """The addresses an URL's host resolved to, each as ``getaddrinfo`` answered it."""

    parts: SplitResult
    addresses: tuple[tuple[socket.AddressFamily, Any], ...]


def url_resolve(url: str, *, allow_private: bool) -> Resolved:
    """Resolve an URL's host; refuse it when any address is not public (unless allowed).

    One forbidden address refuses the URL: a name with a public and a private address would
    otherwise reach the private one whenever the public one fails.
    """
    parts = url_parse(url)
    host = parts.hostname or ""
    try:
        infos = socket.getaddrinfo(host, _port(parts), type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise WebhookUrlError(
            "WEBHOOK_URL_UNRESOLVABLE", f"The host {host!r} does not resolve: {error}."
        ) from None
    addresses = tuple(
        (family, sockaddr)
        for family, _type, _proto, _name, sockaddr in infos
        if family in (socket.AF_INET, socket.AF_INET6)
    )
    if not addresses:
        raise WebhookUrlError("WEBHOOK_URL_UNRESOLVABLE", f"The host {host!r} has no address.")
    if not allow_private:
        for _family, sockaddr in addresses:
            address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
            if address_forbidden(address):
                raise WebhookUrlError(
                    "WEBHOOK_URL_FORBIDDEN",
                    f"The host {host!r} resolves to {address}, which is not a public address.",
                )
    return Resolved(parts=parts, addresses=addresses)


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """An HTTP connection to one checked address; Host is still the URL's name."""

    def __init__(self, host: str, port: int, *, address: Resolved, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self._address = address

    def connect(self) -> None:
        self.sock = _connect(self._address, self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """An HTTPS connection to one checked address, with SNI and certificate of the name."""

    def __init__(
        self, host: str, port: int, *, address: Resolved, timeout: float, context: ssl.SSLContext
    ) -> None:
        super().__init__(host, port, timeout=timeout, context=context)
        self._address = address
        self._tls = context

    def connect(self) -> None:
        sock = _connect(self._address, self.timeout)
        self.sock = self._tls.wrap_socket(sock, server_hostname=self.host)


def _connect(resolved: Resolved, timeout: float | None) -> socket.socket:
    """Connect to the first of the checked addresses that answers."""
    error: OSError | None = None
    for family, sockaddr in resolved.addresses:
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(sockaddr)
        except OSError as failure:
            sock.close()
            error = failure
            continue
        return sock
    assert error is not None, "a resolved URL has at least one address"
    raise error


@dataclass(frozen=True, slots=True)
class PostResult:
    """What one delivery attempt got: the receiver's status, or the error that stopped it."""

    status_code: int | None
    latency_ms: float
    error: str = ""
    response_excerpt: str = ""

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def post(
    *, url: str, body: bytes, headers: dict[str, str], timeout: float, allow_private: bool
) -> PostResult:
    """POST ``body`` to ``url`` once, within ``timeout`` seconds for the whole exchange.

    The URL is resolved and checked first (``WEBHOOK_URL_FORBIDDEN`` when it now points at a
    private address, nothing is sent); the answer's status decides, 2xx is a delivery.
    """
    started = time.monotonic()

    def elapsed() -> float:
        return round((time.monotonic() - started) * 1000, 3)

    try:
        resolved = url_resolve(url, allow_private=allow_private)
    except WebhookUrlError as error:
        return PostResult(status_code=None, latency_ms=elapsed(), error=f"{error.code}: {error}")
    parts = resolved.parts
    host, port = parts.hostname or "", _port(parts)
    connection: http.client.HTTPConnection
    if parts.scheme == "https":
        connection = _PinnedHTTPSConnection(
            host, port, address=resolved, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        connection = _PinnedHTTPConnection(host, port, address=resolved, timeout=timeout)
    # Socket timeouts bound each read; this bounds a receiver that answers a byte at a time.
    deadline = threading.Timer(
        max(0.0, timeout - (time.monotonic() - started)), _abort, [connection]
    )
    deadline.daemon = True
    deadline.start()
    try:
        path = parts.path or "/"
        if parts.query:
            path = f"{path}?{parts.query}"
        connection.request(
            "POST",
            path,
            body=body,
            headers={
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                **headers,
            },
        )
        response = connection.getresponse()
        excerpt = response.read(EXCERPT_BYTES).decode("utf-8", errors="replace")
        return PostResult(
            status_code=response.status, latency_ms=elapsed(), response_excerpt=excerpt
        )
    except (OSError, http.client.HTTPException, ValueError) as error:
        if isinstance(error, TimeoutError) or time.monotonic() - started >= timeout:
            reason = f"timeout: no complete answer within {timeout:g} s"
        else:
            reason = f"{type(error).__name__}: {error}"
        return PostResult(status_code=None, latency_ms=elapsed(), error=reason[:500])
    finally:
        deadline.cancel()
        connection.close()


def _abort(connection: http.client.HTTPConnection) -> None:
    """Cut a connection whose exchange took too long (a blocked read then fails)."""
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
