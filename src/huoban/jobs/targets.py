"""Keep webhooks off the deployment's own network (SSRF): loopback, private, link-local and reserved
addresses are refused unless HUOBAN_WEBHOOK_ALLOW_PRIVATE is set (tests and closed intranets)."""

from __future__ import annotations

import ipaddress
import socket

LOCAL_NAMES = ("localhost", ".localhost", ".local", ".internal")


def _is_private(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    return not ip.is_global or ip.is_multicast


def literal_is_private(host: str) -> bool:
    """True for an IP literal in a non-public range or an obviously local name; no DNS lookup."""
    host = host.strip("[]").lower().rstrip(".")
    if host == "localhost" or host.endswith(LOCAL_NAMES[1:]):
        return True
    try:
        return _is_private(host)
    except ValueError:
        return False


def resolves_to_private(host: str, port: int) -> bool:
    """True when any address the host resolves to is non-public (checked again at delivery time)."""
    if literal_is_private(host):
        return True
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except OSError:
        return False  # an unresolvable host fails at connect time with its own error
    return any(_is_private(str(info[4][0])) for info in infos)
