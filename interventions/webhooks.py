"""Sending a webhook: one POST to an address that was checked, and never a redirect.

A rule's URL is chosen by whoever may edit rules, and the worker that calls it sits inside the
network: without care it is a way to reach the cloud metadata service (169.254.169.254), the
database's admin port or anything else on localhost or the LAN (server-side request forgery).

- The host is resolved when the call is made (what DNS said when the rule was saved means
  nothing later) and every address it resolves to must be public: loopback, private,
  link-local, shared (100.64/10), multicast, reserved and unspecified addresses are refused,
  IPv4-mapped IPv6 (::ffff:127.0.0.1) and the old numeric forms (0x7f000001, 2130706433, 127.1)
  included. On-premise receivers go in INTERVENTIONS_WEBHOOK_ALLOWED_NETWORKS (CIDRs).
- The connection goes to the address that was checked (a second lookup could answer
  differently: DNS rebinding), with the URL's host name in the Host header and, for https, in
  TLS SNI and the certificate check.
- A redirect is an answer like any other non-2xx: not followed (it would carry the signature
  to wherever it points).

Rule.clean refuses the literal addresses (and "localhost") up front, with a clear message; a
refusal at send time is logged on the server and recorded as a generic failure.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from functools import cache
from urllib.parse import urlsplit

from django.conf import settings

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
DEFAULT_PORTS = {"http": 80, "https": 443}
MAX_RESPONSE_BYTES = 64 * 1024  # read (and drop) so the connection closes cleanly


class Refused(Exception):
    """The URL, or an address its host resolves to, is not one we may call."""


@cache
def _networks(cidrs: tuple[str, ...]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return tuple(ipaddress.ip_network(cidr.strip(), strict=False) for cidr in cidrs if cidr.strip())


def allowed_networks() -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    return _networks(tuple(settings.INTERVENTIONS_WEBHOOK_ALLOWED_NETWORKS))


def is_allowed(address: IPAddress) -> bool:
    """A public unicast address, or one inside INTERVENTIONS_WEBHOOK_ALLOWED_NETWORKS."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id:
        address = ipaddress.IPv6Address(str(address).split("%", 1)[0])
    if any(address in network for network in allowed_networks()):
        return True
    # is_global is False for loopback, private, link-local, shared, reserved, unspecified,
    # documentation and benchmark ranges; multicast must be refused on its own.
    return address.is_global and not address.is_multicast


def literal_address(host: str) -> IPAddress | None:
    """The address a host written as a number stands for (also 0x7f000001, 2130706433, 127.1,
    which the C resolver accepts), or None for a name."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def _target(url: str) -> tuple[str, str, int]:
    """(scheme, host, port) of an http(s) URL. Raises Refused."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as error:
        raise Refused(f"not a valid URL ({error})") from None
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        raise Refused("not an http:// or https:// address with a host")
    return parts.scheme, parts.hostname, port or DEFAULT_PORTS[parts.scheme]


def url_errors(url: str) -> list[str]:
    """What Rule.clean says about a webhook URL (no DNS lookup: that happens at send time)."""
    try:
        _, host, _ = _target(url)
    except Refused as error:
        return [f'"url" is {error}.']
    address = literal_address(host)
    local_name = host == "localhost" or host.endswith(".localhost")
    if local_name or (address is not None and not is_allowed(address)):
        return [
            f'"url": {host} is a local, private or reserved address; webhooks go to public '
            "addresses only (an on-premise receiver's network can be allowed with "
            "INTERVENTIONS_WEBHOOK_ALLOWED_NETWORKS)."
        ]
    return []


def resolve(host: str, port: int) -> str:
    """The address to connect to: every address the host resolves to must be allowed.
    Raises Refused, or OSError when the name does not resolve."""
    address = literal_address(host)
    if address is not None:
        addresses = [address]
    else:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        except UnicodeError:  # a label empty or over 63 characters: no lookup will help
            raise Refused(f"{host} is not a valid host name") from None
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    refused = [str(a) for a in addresses if not is_allowed(a)]
    if refused or not addresses:
        raise Refused(f"{host} resolves to {', '.join(refused) or 'nothing'}")
    return str(addresses[0])


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to `address`; the Host header still names the URL's host."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """Connects to `address`; SNI and the certificate check use the URL's host."""

    def __init__(self, host: str, port: int, *, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout, context=ssl.create_default_context())
        self.address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self.host)


def post(url: str, *, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST once and return the HTTP status (a 3xx is returned, never followed).
    Raises Refused for an address we may not call, OSError (timeouts included) when the
    receiver cannot be reached, http.client.HTTPException when it does not speak HTTP."""
    scheme, host, port = _target(url)
    address = resolve(host, port)
    parts = urlsplit(url)
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    connection_class = _PinnedHTTPSConnection if scheme == "https" else _PinnedHTTPConnection
    connection = connection_class(host, port, address=address, timeout=timeout)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        response.read(MAX_RESPONSE_BYTES)
        return response.status
    finally:
        connection.close()
