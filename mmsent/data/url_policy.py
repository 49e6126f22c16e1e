"""The download policy: which addresses the kit may fetch from, and how long one photo may take.

Every URL the kit fetches (photo URLs in a review table, a model's hub id) goes through `check_url`
before each request, the first one and every redirect: the host is resolved and each address it
resolves to must be public; then, once the connection is open and before any body is read,
`check_peer` judges the address actually connected (a name that resolves to a public address for the
check and to another for the connection, DNS rebinding, is caught there). The photo store calls both
itself; the hub client gets them as event hooks (`policy_hooks`, `requests_policy`). Refused:

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
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlsplit

from mmsent.errors import UsageError

ALLOW_PRIVATE_ENV = "MMSENT_ALLOW_PRIVATE_URLS"
DEADLINE_ENV = "MMSENT_PHOTO_DEADLINE"
DEFAULT_PHOTO_DEADLINE = 60.0  # seconds for one photo, every attempt included
LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"})
NAT64 = ipaddress.ip_network("64:ff9b::/96")  # the well-known prefix: its last 32 bits are an IPv4 address
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
    if isinstance(ip, ipaddress.IPv6Address):  # an IPv4 address inside: judged as that address
        if ip in NAT64:
            ip = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
        else:
            ip = ip.ipv4_mapped or ip.sixtofour or ip
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


def resolve(host: str, port: int) -> list[str]:
    """The addresses `host` resolves to; [] when it does not resolve."""
    try:
        found = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, ValueError, UnicodeError):
        return []
    return [str(address[0]) for *_, address in found]


def _judge(url: str, address: str, loopback_ok: bool, how: str) -> None:
    kind = address_kind(address)
    if kind is None or (kind == "loopback" and loopback_ok):
        return
    reached = "reached by a redirect or a host name, " if kind == "loopback" else ""
    raise UrlRefused(f"{url} {how} {address}, a {kind} address, {reached}refused: {POLICY}")


def check_url(url: str, loopback_ok: bool) -> None:
    """Raise `UrlRefused` unless every address `url`'s host resolves to may be fetched (see the module
    docstring); `loopback_ok`: the user's own URL named a loopback host. A host that does not resolve
    passes: the request then fails with its own network error."""
    if private_urls_allowed():
        return
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return
    for address in resolve(parts.hostname or "", port):
        _judge(url, address, loopback_ok, "resolves to")


def proxied(url: str) -> bool:
    """True when the environment sends `url` through a proxy (``HTTPS_PROXY``, ...): the connection's peer
    is then the proxy the user set, and the proxy resolves the host itself."""
    parts = urlsplit(url)
    proxies = urllib.request.getproxies_environment()
    if not (proxies.get(parts.scheme) or proxies.get("all")):
        return False
    return not urllib.request.proxy_bypass_environment(parts.hostname or "", proxies)


def check_peer(url: str, peer: Any, loopback_ok: bool) -> None:
    """Raise `UrlRefused` unless the address the open connection for `url` reached (`peer`, the socket's
    ``(address, port, ...)``) may be fetched. Called once the answer's headers are in, before its body is
    read: it closes the window between `check_url`'s resolution and the connection's own (DNS rebinding).
    An unknown peer, or a request through the user's proxy, passes."""
    if private_urls_allowed() or not isinstance(peer, tuple) or not peer or proxied(url):
        return
    _judge(url, str(peer[0]), loopback_ok, "connected to")


def httpx_peer(response: Any) -> Any:
    """The peer address of an httpx (or httpx2) response's connection, or None when unknown."""
    stream = response.extensions.get("network_stream")
    return None if stream is None else stream.get_extra_info("server_addr")


def requests_peer(response: Any) -> Any:
    """The peer address of a `requests` response's connection (urllib3's connection, or the socket its
    body is read from once the connection let go of it), or None when unknown."""
    sock = getattr(getattr(response.raw, "_connection", None), "sock", None)
    body = getattr(getattr(getattr(response.raw, "_fp", None), "fp", None), "raw", None)
    sock = sock or getattr(body, "_sock", None)
    try:
        return sock.getpeername() if sock is not None else None
    except OSError:
        return None


def policy_hooks(loopback_ok: bool) -> dict[str, list[Callable[[Any], None]]]:
    """httpx event hooks (httpx and httpx2 alike) that put a client's every request, the first and each
    redirect it follows, through `check_url` before it is sent, and every answer through `check_peer`
    before its body is read."""

    def request(request: Any) -> None:
        check_url(str(request.url), loopback_ok)

    def response(response: Any) -> None:
        check_peer(str(response.request.url), httpx_peer(response), loopback_ok)

    return {"request": [request], "response": [response]}


def requests_policy(session: Any, loopback_ok: bool) -> Any:
    """`session` (a `requests.Session`) with the policy on every request it sends, redirects included
    (each goes through `Session.send`), and on every answer's peer (a response hook, which runs before
    the body is read and before a redirect is followed)."""
    send = session.send

    def checked_send(request: Any, **options: Any) -> Any:
        check_url(request.url, loopback_ok)
        return send(request, **options)

    def peer(response: Any, *_: Any, **__: Any) -> None:
        check_peer(response.url, requests_peer(response), loopback_ok)

    session.send = checked_send
    session.hooks.setdefault("response", []).append(peer)
    return session


@contextmanager
def hub_download_policy(endpoint: str | None = None) -> Iterator[None]:
    """Within the block, every request huggingface_hub's HTTP client sends (the first and each redirect it
    follows itself) passes the download policy, and every answer's peer address is checked before its body
    is read (`mmsent.data.url_policy.policy_hooks`; `requests_policy` for huggingface_hub 0.x, whose client
    is `requests`). Loopback is allowed when `endpoint` (default: HF_ENDPOINT, as huggingface_hub read it)
    names it: a local mirror. hf_xet,
    whose own client would fetch past the policy, is off meanwhile (a model folder is small)."""
    import huggingface_hub
    from huggingface_hub import constants
    from huggingface_hub.utils import _http

    loopback_ok = names_loopback(endpoint or constants.ENDPOINT)
    if hasattr(huggingface_hub, "set_client_factory"):  # 1.x and later: httpx (or httpx2)
        previous = getattr(_http, "_GLOBAL_CLIENT_FACTORY", _http.default_client_factory)

        def client():
            made, hooks = previous(), policy_hooks(loopback_ok)
            made.event_hooks = {kind: [*made.event_hooks.get(kind, []), *hooks[kind]] for kind in hooks}
            return made

        install = huggingface_hub.set_client_factory
    else:  # 0.x: requests
        previous = _http._GLOBAL_BACKEND_FACTORY

        def client():
            return requests_policy(previous(), loopback_ok)

        install = huggingface_hub.configure_http_backend
    xet = getattr(constants, "HF_HUB_DISABLE_XET", False)
    constants.HF_HUB_DISABLE_XET = True
    install(client)
    try:
        yield
    finally:
        install(previous)
        constants.HF_HUB_DISABLE_XET = xet
