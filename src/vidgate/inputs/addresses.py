"""Which hosts an image URL may name, and which addresses vidgate may connect to.

A URL's host is read the way a browser (the WHATWG URL standard) reads it, not the way one library
happens to: `2130706433`, `0x7f.1` and `017700000001` are all 127.0.0.1, and are treated as that
address instead of being handed to a resolver that might agree. An address is public only when
it is globally routable and no special-purpose block (IANA registry) contains it; IPv6 forms that
carry an IPv4 address (mapped, compatible, 6to4, NAT64, Teredo) are judged by what they carry.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class HostError(ValueError):
    """The host part of a URL is malformed or ambiguous."""


# Special-purpose blocks (RFC 6890 and successors). Python's `is_global` covers most of these, but its
# answer changed across 3.11/3.12/3.13 patch releases; this list keeps the verdict the same everywhere.
_BLOCKED_V4 = tuple(
    ipaddress.IPv4Network(n)
    for n in (
        "0.0.0.0/8",  # "this network", incl. 0.0.0.0 which Linux treats as localhost
        "10.0.0.0/8",
        "100.64.0.0/10",  # carrier-grade NAT
        "127.0.0.0/8",
        "169.254.0.0/16",  # link-local, incl. cloud metadata 169.254.169.254
        "172.16.0.0/12",
        "192.0.0.0/24",  # IETF protocol assignments
        "192.0.2.0/24",
        "192.88.99.0/24",  # deprecated 6to4 relay anycast
        "192.168.0.0/16",
        "198.18.0.0/15",  # benchmarking
        "198.51.100.0/24",
        "203.0.113.0/24",
        "224.0.0.0/4",  # multicast
        "240.0.0.0/4",  # reserved, incl. broadcast 255.255.255.255
    )
)
_BLOCKED_V6 = tuple(
    ipaddress.IPv6Network(n)
    for n in (
        "::/96",  # unspecified, loopback and the deprecated IPv4-compatible form
        "::ffff:0:0/96",  # IPv4-mapped: never on the wire, some stacks connect to the v4 address
        "::ffff:0:0:0/96",  # IPv4-translated (SIIT)
        "64:ff9b:1::/48",  # local-use NAT64
        "100::/64",  # discard
        "2001::/23",  # IETF protocol assignments, incl. Teredo 2001::/32
        "2001:db8::/32",  # documentation
        "3fff::/20",  # documentation
        "5f00::/16",  # segment routing
        "fc00::/7",  # unique local
        "fe80::/10",  # link-local
        "fec0::/10",  # deprecated site-local
        "ff00::/8",  # multicast
    )
)
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")
_HOSTNAME = re.compile(r"^(?!-)[a-z0-9_-]{1,63}(?<!-)(\.(?!-)[a-z0-9_-]{1,63}(?<!-))*\.?$")
_HEX_PART = re.compile(r"^0[xX][0-9a-fA-F]*$")


def is_public(address: IPAddress) -> bool:
    """True when connecting to `address` can only reach the public internet."""
    if isinstance(address, ipaddress.IPv6Address):
        embedded = _embedded_v4(address)
        if embedded is not None:
            return is_public(embedded)
        if any(address in net for net in _BLOCKED_V6):
            return False
    elif any(address in net for net in _BLOCKED_V4):
        return False
    return address.is_global and not (
        address.is_multicast or address.is_reserved or address.is_link_local or address.is_loopback
    )


def _embedded_v4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address a 6to4 or NAT64 address routes to (those are public only if it is)."""
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


@dataclass(frozen=True)
class Host:
    """A URL's host: `name` as sent in Host and TLS SNI; `address` when the URL names an IP."""

    name: str
    address: IPAddress | None


def parse_host(raw: str) -> Host:
    """Read a URL's host (as `urlsplit(...).hostname` gives it: lower case, IPv6 without brackets)."""
    if not raw:
        raise HostError("the URL has no host")
    if ":" in raw:  # only an IPv6 literal has a colon here
        if "%" in raw:
            raise HostError("IPv6 zone identifiers are not allowed")
        try:
            return Host(f"[{raw}]", ipaddress.IPv6Address(raw))
        except ValueError:
            raise HostError("malformed IPv6 address") from None
    if "%" in raw:
        raise HostError("percent-encoded hosts are not allowed")
    try:
        # IDNA maps look-alikes first (NFKC): "①②⑦.0.0.1" is 127.0.0.1 to a browser, and so to us.
        name = raw.encode("idna").decode("ascii").lower() if not raw.isascii() else raw.lower()
    except UnicodeError:
        raise HostError("not a valid internationalised host name") from None
    address = _ipv4_number_form(name)
    if address is not None:
        return Host(str(address), address)
    if not _HOSTNAME.match(name) or len(name) > 253:
        raise HostError("not a valid host name")
    return Host(name.rstrip("."), None)


def _ipv4_number_form(name: str) -> ipaddress.IPv4Address | None:
    """The WHATWG IPv4 parser: a host whose last label is a number is an IPv4 address in decimal,
    octal (leading 0) or hex (0x) parts, 1 to 4 of them, or it is invalid; never a DNS name."""
    parts = name.split(".")
    if len(parts) > 1 and parts[-1] == "":
        parts.pop()
    last = parts[-1]
    if not (last.isdigit() or _HEX_PART.match(last)):
        return None
    if len(parts) > 4:
        raise HostError("too many parts for an IPv4 address")
    numbers = [_ipv4_part(part) for part in parts]
    if any(n > 255 for n in numbers[:-1]) or numbers[-1] >= 256 ** (5 - len(numbers)):
        raise HostError("IPv4 address part out of range")
    value = numbers[-1] + sum(n << (8 * (3 - i)) for i, n in enumerate(numbers[:-1]))
    return ipaddress.IPv4Address(value)


def _ipv4_part(part: str) -> int:
    try:
        if _HEX_PART.match(part):
            return int(part[2:] or "0", 16)
        if len(part) > 1 and part.startswith("0"):
            return int(part[1:], 8)
        if part.isdigit():
            return int(part)
    except ValueError:
        pass
    raise HostError(f"{part!r} is not a number")
