"""The one place that sends HTTP to a partner's endpoint.

Where it may send: https only, unless WEBHOOK_ALLOW_PRIVATE (tests and the quickstart, which also allows http);
never to an address that is not public (private, loopback, link-local, shared, reserved, multicast) unless
WEBHOOK_ALLOW_PRIVATE. The host is resolved at delivery time, every address it resolves to is checked, and the
request goes to the checked address (the name still used for the Host header, TLS SNI and certificate check), so a
name that resolves differently a moment later (DNS rebinding) cannot redirect it. Redirects are not followed.
"""

import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import certifi
import urllib3

MAX_URL_LENGTH = 500
EXCERPT_CHARS = 1000
MAX_READ_BYTES = 64 * 1024


class AddressRefused(Exception):
    """The URL or the address it resolves to may not be called."""


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no HTTP answer (refused address, timeout, connection closed)
    retry_after: str
    excerpt: str
    error: str
    duration_ms: int


def url_problem(url: str, *, allow_private: bool) -> str | None:
    """What is wrong with a URL before any lookup, or None."""
    if len(url) > MAX_URL_LENGTH:
        return "too long"
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return "not a URL"
    if parts.scheme not in (("https", "http") if allow_private else ("https",)):
        return "must be https"
    if not parts.hostname or parts.username or parts.password or parts.fragment:
        return "needs a host, and no credentials or fragment"
    if port == 0:
        return "bad port"
    try:
        literal = ipaddress.ip_address(parts.hostname)
    except ValueError:
        literal = None
    if not allow_private and ((literal is not None and not _public(literal)) or parts.hostname.lower() == "localhost"):
        return "not a public address"
    return None


def _public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def resolve(host: str, port: int, *, allow_private: bool) -> str:
    """The address to connect to: the first the host resolves to, once every one is allowed. Raises AddressRefused."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as error:
        raise AddressRefused(f"cannot resolve {host}: {error}") from None
    addresses = [info[4][0] for info in infos]
    if not allow_private:
        refused = [a for a in addresses if not _public(ipaddress.ip_address(a.split("%")[0]))]
        if refused:
            raise AddressRefused(f"{host} resolves to a non-public address {refused[0]}")
    return addresses[0]


def post(url: str, *, body: bytes, headers: dict[str, str], timeout: float, allow_private: bool) -> Answer:
    """POST `body` to `url` with a total budget of `timeout` seconds. Never raises for what the network does."""
    started = time.monotonic()

    def answer(status=None, retry_after="", excerpt="", error="") -> Answer:
        return Answer(status, retry_after, excerpt, error[:255], int((time.monotonic() - started) * 1000))

    problem = url_problem(url, allow_private=allow_private)
    if problem:
        return answer(error=f"refused: {problem}")
    parts = urlsplit(url)
    https = parts.scheme == "https"
    port = parts.port or (443 if https else 80)
    try:
        address = resolve(parts.hostname, port, allow_private=allow_private)
    except AddressRefused as error:
        return answer(error=f"refused: {error}")
    budget = urllib3.Timeout(connect=timeout, read=timeout, total=timeout)
    if https:
        pool = urllib3.HTTPSConnectionPool(
            address,
            port,
            timeout=budget,
            retries=False,
            maxsize=1,
            server_hostname=parts.hostname,
            assert_hostname=parts.hostname,
            cert_reqs="CERT_REQUIRED",
            ca_certs=certifi.where(),
        )
    else:
        pool = urllib3.HTTPConnectionPool(address, port, timeout=budget, retries=False, maxsize=1)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host_header = parts.netloc.rsplit("@", 1)[-1]
    try:
        response = pool.urlopen(
            "POST",
            path,
            body=body,
            headers={**headers, "Host": host_header, "Content-Type": "application/json", "User-Agent": "chargepay-webhooks/1"},
            redirect=False,
            retries=False,
            preload_content=False,
        )
        try:
            content = response.read(MAX_READ_BYTES, decode_content=True)
        finally:
            response.release_conn()
    except Exception as error:  # timeouts, refused and closed connections, TLS failures: all "no answer"
        return answer(error=f"{type(error).__name__}: {error}")
    finally:
        pool.close()
    if time.monotonic() - started > timeout:
        return answer(error=f"timed out after {timeout:g} s (status {response.status} came too late)")
    return answer(
        status=response.status,
        retry_after=response.headers.get("Retry-After", ""),
        excerpt=content.decode("utf-8", errors="replace")[:EXCERPT_CHARS],
    )
