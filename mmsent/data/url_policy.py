"""The download policy: which addresses the kit may fetch from, and how long one photo may take.

Every URL the kit fetches (photo URLs in a review table, a model's hub id) goes through `check_url`
before each request, the first one and every redirect: the host is resolved and each address it
resolves to must be public. Refused:

- private networks (10/8, 172.16/12, 192.168/16, fc00::/7, ...), shared and reserved ranges;
- link-local addresses, the cloud metadata address 169.254.169.254 among them;
- loopback (127.0.0.0/8, ::1), unless the URL the user wrote names a loopback host itself
  (``http://127.0.0.1:8000/...`` or ``localhost``: a local mirror), in which case its redirects may
  stay on loopback too.

``MMSENT_ALLOW_PRIVATE_URLS=1`` lifts the rule (a private mirror inside a company network).

A photo has `photo_deadline()` seconds in all (attempts and waits between them included): the
``--photo-deadline`` flag, else ``MMSENT_PHOTO_DEADLINE``, else `DEFAULT_PHOTO_DEADLINE`.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from urllib.parse import urlsplit

from mmsent.errors import UsageError

ALLOW_PRIVATE_ENV = "MMSENT_ALLOW_PRIVATE_URLS"
DEADLINE_ENV = "MMSENT_PHOTO_DEADLINE"
DEFAULT_PHOTO_DEADLINE = 60.0  # seconds for one photo, every attempt included
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
METADATA = frozenset({ipaddress.ip_address("169.254.169.254"), ipaddress.ip_address("fd00:ec2::254")})
POLICY = (
    "the download policy fetches only public addresses (a URL that itself names 127.0.0.1 or localhost is a "
    f"local mirror and allowed); set {ALLOW_PRIVATE_ENV}=1 to fetch from a private mirror"
)


class UrlRefused(Exception):
    """A URL the policy does not fetch; the message says which address and why."""


def private_urls_allowed() -> bool:
    """True when ``MMSENT_ALLOW_PRIVATE_URLS=1``; any value but 0/1/empty is a `UsageError`."""
    value = os.environ.get(ALLOW_PRIVATE_ENV, "").strip()
    if value not in ("", "0", "1"):
        raise UsageError(f"{ALLOW_PRIVATE_ENV}={value!r}: set it to 1 (allow private addresses) or 0.")
    return value == "1"


def photo_deadline(flag: float | None = None) -> float:
    """Seconds one photo may take in all: `flag`, else ``MMSENT_PHOTO_DEADLINE``, else the default."""
    if flag is not None:
        return flag
    value = os.environ.get(DEADLINE_ENV, "").strip()
    if not value:
        return DEFAULT_PHOTO_DEADLINE
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= 86_400:
        raise UsageError(f"{DEADLINE_ENV}={value!r}: give the seconds one photo may take, e.g. 30.")
    return seconds


def names_loopback(url: str) -> bool:
    """True when the host written in `url` is a loopback name or address (a local mirror)."""
    host = (urlsplit(url).hostname or "").rstrip(".").lower()
    if host in LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def address_kind(address: str) -> str | None:
    """What makes `address` non-public ("private", "link-local", ...), or None for a public one."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    if ip in METADATA:
        return "cloud metadata"
    if ip.is_loopback:
        return "loopback"
    if ip.is_link_local:
        return "link-local"
    if ip.is_private:
        return "private"
    if ip.is_multicast or ip.is_unspecified or ip.is_reserved or not ip.is_global:
        return "reserved (not public)"
    return None


def check_url(url: str, loopback_ok: bool) -> None:
    """Raise `UrlRefused` unless every address `url`'s host resolves to may be fetched (see the module
    docstring); `loopback_ok`: the user's own URL named a loopback host. A host that does not resolve
    passes: the request then fails with its own network error."""
    if private_urls_allowed():
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError, UnicodeError):
        return
    for *_, address in found:
        kind = address_kind(str(address[0]))
        if kind is None or (kind == "loopback" and loopback_ok):
            continue
        reached = "reached by a redirect or a host name, " if kind == "loopback" else ""
        raise UrlRefused(f"{url} resolves to {address[0]}, a {kind} address, {reached}refused: {POLICY}")
