"""The outbound address rule: which webhook URLs are refused, and what an allow-list lets in.
No test needs DNS: names resolve through a resolver of the test's own."""
import socket

import pytest

from heyun.netguard import AddressRefused, OutboundGuard, refusal


@pytest.mark.parametrize("address, reason", [
    ("127.0.0.1", "a loopback address"), ("127.8.9.10", "a loopback address"), ("::1", "a loopback address"),
    ("0.0.0.0", "an unspecified address"), ("::", "an unspecified address"),
    ("10.1.2.3", "a private address"), ("172.31.255.1", "a private address"), ("192.168.0.1", "a private address"),
    ("169.254.1.1", "a link-local address"), ("fe80::1", "a link-local address"),
    ("fc00::1", "a unique-local address"), ("fd12:3456::1", "a unique-local address"),
    ("224.0.0.1", "a multicast address"), ("ff02::1", "a multicast address"),
    ("169.254.169.254", "a cloud metadata address"), ("fd00:ec2::254", "a cloud metadata address"),
    ("100.100.100.200", "a cloud metadata address"),
    ("::ffff:127.0.0.1", "a loopback address"), ("::ffff:169.254.169.254", "a cloud metadata address"),
    ("64:ff9b::a00:1", "a private address"),  # NAT64 of 10.0.0.1
    ("::7f00:1", "a loopback address"), ("::a9fe:a9fe", "a cloud metadata address"),  # IPv4-compatible
    ("2002:7f00:1::1", "a loopback address"), ("2002:a00:1::", "a private address"),  # 6to4
    ("64:ff9b:1::7f00:1", "a local-use NAT64 address"), ("64:ff9b:1:5db8:d7:e00::", "a local-use NAT64 address"),
    ("2002:5db8:d70e::1", None), ("::5db8:d70e", None),  # 93.184.215.14 carried: public
    ("100.64.0.1", "an address that is not public"),  # carrier-grade NAT
    ("93.184.215.14", None), ("2606:2800:21f:cb07:6820:80da:af6b:8b2c", None),
])
def test_refusal_names_what_the_address_is(address, reason):
    assert refusal(address) == reason


def local_dns(host, port, family=0, kind=0):
    """``localhost`` is 127.0.0.1; no other name resolves."""
    if host == "localhost":
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


def test_urls_are_checked_by_scheme_literal_address_and_resolved_name():
    guard = OutboundGuard(resolver=local_dns)
    for url in ("ftp://93.184.215.14/x", "file:///etc/passwd", "http:///path", "gopher://localhost/", None,
                "http://93.184.215.14:99999/"):
        with pytest.raises(AddressRefused):
            guard.check_url(url)
    with pytest.raises(AddressRefused, match=r"^localhost is a loopback address \(127\.0\.0\.1\)"):
        guard.check_url("http://LOCALHOST:8080/x")  # resolved, as the sender would
    with pytest.raises(AddressRefused, match="^::ffff:10.0.0.1 is a private address;"):
        guard.check_url("http://[::ffff:10.0.0.1]/x")
    guard.check_url("https://93.184.215.14/hook")
    guard.check_url("https://hooks.water.example/hook")  # does not resolve (yet): the sender checks again


def test_the_allow_list_takes_networks_and_host_names_but_never_metadata():
    guard = OutboundGuard(" 10.0.0.0/8,127.0.0.1 , hooks.internal., 169.254.0.0/16,")
    guard.check_url("http://10.20.30.40/hook")
    guard.check_url("http://127.0.0.1:8000/hook")
    guard.check_address("Hooks.Internal", "192.168.7.7")  # the name is allowed, whatever it resolves to
    guard.check_address("hooks.internal", "::1")
    guard.check_url("http://169.254.1.1/")
    for url in ("http://127.0.0.2/", "http://192.168.1.1/", "http://169.254.169.254/latest/meta-data/"):
        with pytest.raises(AddressRefused):
            guard.check_url(url)
    with pytest.raises(AddressRefused):
        guard.check_address("hooks.internal", "169.254.169.254")


def test_a_name_with_any_address_inside_is_refused():
    """A public address beside a private one is how DNS rebinding starts."""
    def dns(host, port, family, kind):
        return [(2, 1, 6, "", ("93.184.215.14", port)), (2, 1, 6, "", ("10.0.0.7", port))]

    with pytest.raises(AddressRefused, match=r"\(10\.0\.0\.7\)"):
        OutboundGuard(resolver=dns).check_url("https://hooks.example.org/x")
