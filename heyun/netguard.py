"""Requests to addresses users give (organisations' webhook URLs) must not reach inside.

Whoever may set a webhook URL could otherwise aim the platform's own requests at what only it can
reach: the database's host, the broker's management API, a cloud's metadata service (instance
credentials). A URL is refused when its host is, or resolves to, an address that is not public:

- loopback (127.0.0.0/8, ::1), unspecified (0.0.0.0, ::), link-local (169.254.0.0/16, fe80::/10),
  private (10/8, 172.16/12, 192.168/16), unique-local (fc00::/7), multicast, shared (100.64/10),
  reserved or documentation ranges: whatever Python's ``ipaddress`` says is not global;
- an IPv4 address written as IPv6 counts as the IPv4 address it carries: mapped
  (``::ffff:127.0.0.1``), IPv4-compatible (``::7f00:1``, ::/96), 6to4 (``2002:7f00:1::1``,
  2002::/16) and well-known NAT64 (``64:ff9b::7f00:1``); local-use NAT64 (64:ff9b:1::/48) is
  refused outright, since where its IPv4 address sits is the operator's choice;
- cloud metadata addresses (``METADATA_ADDRESSES``) always, even inside an allowed network.

A name that resolves to several addresses is refused if any of them is refused (a public one
beside a private one is how DNS rebinding starts). A check when the URL is given is not enough:
DNS may answer differently when the request is sent. So the sender checks the addresses it is
about to connect to, and connects to those (``resolve``), on every new connection.

An installation whose receivers are inside on purpose allows them by configuration,
``WEBHOOK_ALLOWED_NETWORKS``: comma-separated networks (``10.0.0.0/8``, ``127.0.0.1/32``) and
host names (``hooks.internal``: that name whatever it resolves to). Empty (the default): only
public addresses.
"""
import ipaddress
import socket
from urllib.parse import urlsplit

SCHEMES = ("http", "https")
# AWS/GCP/Azure/OpenStack (IPv4 and AWS's IPv6), AWS ECS task metadata, Alibaba Cloud, Tencent Cloud.
METADATA_ADDRESSES = frozenset(ipaddress.ip_address(a) for a in (
    "169.254.169.254", "fd00:ec2::254", "169.254.170.2", "100.100.100.200", "169.254.0.23"))
NAT64 = ipaddress.ip_network("64:ff9b::/96")
LOCAL_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated, but still routed by some stacks
UNIQUE_LOCAL = ipaddress.ip_network("fc00::/7")


class AddressRefused(ValueError):
    """The URL may not be requested; the message says why (for the user, and the delivery's record)."""


def refusal(address):
    """Why a request may not go to ``address``, or ``None`` for a public address."""
    address = ipaddress.ip_address(address)
    if address.version == 6:
        if address in LOCAL_NAT64:
            return "a local-use NAT64 address"
        if address.ipv4_mapped:
            address = address.ipv4_mapped
        elif address.sixtofour:
            address = address.sixtofour
        elif address in NAT64 or (address in IPV4_COMPATIBLE and int(address) > 1):  # not :: or ::1
            address = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    if address in METADATA_ADDRESSES:
        return "a cloud metadata address"
    for kind, flag in (("an unspecified", address.is_unspecified), ("a loopback", address.is_loopback),
                       ("a link-local", address.is_link_local), ("a multicast", address.is_multicast),
                       ("a unique-local", address in UNIQUE_LOCAL), ("a private", address.is_private)):
        if flag:
            return f"{kind} address"
    if not address.is_global:
        return "an address that is not public"
    return None


def _literal(host):
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _host_name(host):
    return host.strip("[]").rstrip(".").lower()


class OutboundGuard:
    """The rule for outbound requests to user-given URLs, with an installation's allow-list."""

    def __init__(self, allowed="", resolver=None):
        # ``resolver`` stands in for socket.getaddrinfo (looked up when called: eventlet patches it).
        self.resolver = resolver
        entries = allowed.split(",") if isinstance(allowed, str) else list(allowed or ())
        self.networks, self.hosts = [], set()
        for entry in (str(e).strip() for e in entries):
            if not entry:
                continue
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
            except ValueError:
                self.hosts.add(_host_name(entry))

    def check_address(self, host, address):
        """Raise ``AddressRefused`` unless a request to ``host`` may connect to ``address``."""
        address = ipaddress.ip_address(address.split("%", 1)[0] if isinstance(address, str) else address)
        reason = refusal(address)
        if reason is None:
            return
        if address not in METADATA_ADDRESSES and (
                _host_name(host) in self.hosts or any(address in network for network in self.networks)):
            return
        shown = "" if _literal(_host_name(host)) else f" ({address})"
        raise AddressRefused(f"{_host_name(host)} is {reason}{shown}; requests may only go to public "
                             "addresses unless WEBHOOK_ALLOWED_NETWORKS allows it")

    def resolve(self, host, port, family=socket.AF_UNSPEC):
        """``getaddrinfo`` answers for ``host``, each checked: what a sender connects to. Raises
        ``AddressRefused`` if any is refused, ``socket.gaierror`` if the name does not resolve."""
        answers = (self.resolver or socket.getaddrinfo)(_host_name(host), port, family, socket.SOCK_STREAM)
        for *_, sockaddr in answers:
            self.check_address(host, sockaddr[0])
        return answers

    def check_url(self, url):
        """Raise ``AddressRefused`` for a URL that is not http(s) or whose host is refused.

        A name that does not resolve now passes: it may be set up later, and the sender checks
        again anyway (and cannot send to it until it resolves)."""
        parts = urlsplit(url) if isinstance(url, str) else None
        if not parts or parts.scheme not in SCHEMES or not parts.hostname:
            raise AddressRefused("must be an http or https URL with a host")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise AddressRefused("the port is not a number from 0 to 65535") from None
        literal = _literal(_host_name(parts.hostname))
        if literal is not None:
            self.check_address(parts.hostname, literal)
            return
        try:
            self.resolve(parts.hostname, port)
        except (socket.gaierror, UnicodeError):
            pass
