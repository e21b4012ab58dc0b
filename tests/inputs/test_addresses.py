"""Host forms as a browser reads them, and which addresses count as public."""

from __future__ import annotations

import ipaddress

import pytest

from vidgate.inputs.addresses import HostError, is_public, parse_host


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("127.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0x7f000001", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("0177.0.0.01", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("1.2.3", "1.2.0.3"),
        ("1.65536", "1.1.0.0"),
        ("0x", "0.0.0.0"),
        ("8.8.8.8.", "8.8.8.8"),
        ("８.８.８.８", "8.8.8.8"),  # fullwidth digits, as IDNA maps them
        ("::ffff:7f00:1", "::ffff:127.0.0.1"),
    ],
)
def test_number_forms_are_read_as_addresses(host: str, address: str) -> None:
    assert parse_host(host).address == ipaddress.ip_address(address)


@pytest.mark.parametrize(
    "host", ["256.1.1.1", "1.2.3.4.5", "08.1.1.1", "1.2.3.256", "example.123", "a..b", "-a.com", ""]
)
def test_malformed_hosts_are_refused(host: str) -> None:
    with pytest.raises(HostError):
        parse_host(host)


@pytest.mark.parametrize(
    ("host", "name"), [("Example.COM", "example.com"), ("bücher.de", "xn--bcher-kva.de"), ("a.b.", "a.b")]
)
def test_names_are_normalised_for_dns_host_and_sni(host: str, name: str) -> None:
    parsed = parse_host(host.lower())
    assert parsed.address is None and parsed.name == name


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2606:4700::1111", True),
        ("2002:808:808::1", True),  # 6to4 of a public address
        ("64:ff9b::808:808", True),  # NAT64 of a public address
        ("::ffff:8.8.8.8", False),  # mapped: some stacks would connect to it as IPv4
        ("192.88.99.1", False),
        ("192.0.0.8", False),
        ("100.100.100.200", False),  # Alibaba's metadata, inside CGNAT
        ("fd00:ec2::254", False),  # AWS metadata over IPv6
        ("2001:db8::1", False),
    ],
)
def test_public_addresses(address: str, public: bool) -> None:
    assert is_public(ipaddress.ip_address(address)) is public
