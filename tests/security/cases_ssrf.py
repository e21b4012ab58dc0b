"""Server-side request forgery: the URLs an attacker would send, and what vidgate does with each.

Each case runs through the real `ImageFetcher` twice, as a task would: `check` (what submit does)
and then `fetch` (what the worker does), with DNS answers from a stub and every connection recorded
by a transport that never touches the network. `tests/inputs/test_ssrf.py` asserts the outcomes;
docs/security.md is rendered from the same observations.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from security.network import RecordingTransport, StaticResolver
from vidgate.errors import ImageError
from vidgate.inputs.fetch import ImageFetcher
from vidgate.settings import Settings

PUBLIC_V4 = "93.184.216.34"
PUBLIC_V6 = "2606:2800:220:1:248:1893:25c7:1946"
IMG = {"img.test": [PUBLIC_V4]}  # a public host that redirects, where a case says so

Expect = Literal["refused at submit", "refused in worker", "fetched"]


@dataclass(frozen=True)
class SsrfCase:
    attack: str
    url: str
    expect: Expect
    dns: dict[str, list[str] | list[list[str]]] = field(default_factory=dict)
    redirects: dict[str, str] = field(default_factory=dict)  # Host -> Location


def _redirect(attack: str, location: str, **dns: list[str]) -> SsrfCase:
    return SsrfCase(attack, "http://img.test/a.png", "refused in worker", IMG | dns, {"img.test": location})


SSRF_CASES: list[SsrfCase] = [
    # Schemes other than http(s)
    SsrfCase("local file", "file:///etc/passwd", "refused at submit"),
    SsrfCase("gopher to Redis", "gopher://127.0.0.1:6379/_FLUSHALL", "refused at submit"),
    SsrfCase("dict to memcached", "dict://127.0.0.1:11211/stats", "refused at submit"),
    SsrfCase("ftp", "ftp://example.com/a.png", "refused at submit"),
    # Literal non-public addresses
    SsrfCase("loopback", "http://127.0.0.1/a.png", "refused at submit"),
    SsrfCase("loopback by name", "http://localhost/a.png", "refused at submit", {"localhost": ["127.0.0.1", "::1"]}),
    SsrfCase("IPv6 loopback", "http://[::1]/a.png", "refused at submit"),
    SsrfCase("unspecified 0.0.0.0", "http://0.0.0.0/a.png", "refused at submit"),
    SsrfCase("unspecified as 0", "http://0/a.png", "refused at submit"),
    SsrfCase("IPv6 unspecified", "http://[::]/a.png", "refused at submit"),
    SsrfCase("private 10/8", "http://10.0.0.1/a.png", "refused at submit"),
    SsrfCase("private 172.16/12", "http://172.16.0.1/a.png", "refused at submit"),
    SsrfCase("private 192.168/16", "http://192.168.1.1/a.png", "refused at submit"),
    SsrfCase("cloud metadata", "http://169.254.169.254/latest/meta-data/", "refused at submit"),
    SsrfCase("carrier-grade NAT 100.64/10", "http://100.64.0.1/a.png", "refused at submit"),
    SsrfCase("IPv6 link-local", "http://[fe80::1]/a.png", "refused at submit"),
    SsrfCase("IPv6 unique local", "http://[fd00::1]/a.png", "refused at submit"),
    SsrfCase("IPv6 zone identifier", "http://[fe80::1%25eth0]/a.png", "refused at submit"),
    SsrfCase("multicast", "http://224.0.0.1/a.png", "refused at submit"),
    SsrfCase("IPv6 multicast", "http://[ff02::1]/a.png", "refused at submit"),
    SsrfCase("broadcast", "http://255.255.255.255/a.png", "refused at submit"),
    SsrfCase("reserved 240/4", "http://240.0.0.1/a.png", "refused at submit"),
    SsrfCase("benchmarking 198.18/15", "http://198.18.0.1/a.png", "refused at submit"),
    SsrfCase("documentation 192.0.2/24", "http://192.0.2.1/a.png", "refused at submit"),
    # The same addresses in the number forms browsers and resolvers accept
    SsrfCase("decimal loopback", "http://2130706433/a.png", "refused at submit"),
    SsrfCase("hex loopback", "http://0x7f000001/a.png", "refused at submit"),
    SsrfCase("hex, two parts", "http://0x7f.1/a.png", "refused at submit"),
    SsrfCase("octal loopback", "http://017700000001/a.png", "refused at submit"),
    SsrfCase("octal, dotted", "http://0177.0.0.1/a.png", "refused at submit"),
    SsrfCase("short form 127.1", "http://127.1/a.png", "refused at submit"),
    SsrfCase("zero-padded", "http://127.000.000.001/a.png", "refused at submit"),
    SsrfCase("hex metadata", "http://0xa9.0xfe.0xa9.0xfe/", "refused at submit"),
    SsrfCase("decimal metadata", "http://2852039166/", "refused at submit"),
    SsrfCase("Unicode digits (NFKC)", "http://①②⑦.0.0.1/a.png", "refused at submit"),
    SsrfCase("trailing dot", "http://127.0.0.1./a.png", "refused at submit"),
    SsrfCase("too many parts", "http://1.2.3.4.5/a.png", "refused at submit"),
    # IPv6 forms that carry an IPv4 address
    SsrfCase("IPv4-mapped IPv6", "http://[::ffff:127.0.0.1]/a.png", "refused at submit"),
    SsrfCase("IPv4-mapped, hex", "http://[::ffff:7f00:1]/a.png", "refused at submit"),
    SsrfCase("IPv4-mapped public", f"http://[::ffff:{PUBLIC_V4}]/a.png", "refused at submit"),
    SsrfCase("IPv4-compatible IPv6", "http://[::127.0.0.1]/a.png", "refused at submit"),
    SsrfCase("6to4 wrapping loopback", "http://[2002:7f00:1::]/a.png", "refused at submit"),
    SsrfCase("6to4 wrapping metadata", "http://[2002:a9fe:a9fe::1]/a.png", "refused at submit"),
    SsrfCase("NAT64 wrapping metadata", "http://[64:ff9b::a9fe:a9fe]/a.png", "refused at submit"),
    SsrfCase("Teredo wrapping loopback", "http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", "refused at submit"),
    # DNS answers
    SsrfCase("name resolving to private", "http://internal.test/a.png", "refused at submit", {"internal.test": ["10.0.0.5"]}),
    SsrfCase("name resolving to metadata", "http://metadata.google.internal/", "refused at submit", {"metadata.google.internal": ["169.254.169.254"]}),
    SsrfCase("wildcard DNS (nip.io style)", "http://127.0.0.1.nip.io/a.png", "refused at submit", {"127.0.0.1.nip.io": ["127.0.0.1"]}),
    SsrfCase("mixed public and private A", "http://mixed.test/a.png", "refused at submit", {"mixed.test": [PUBLIC_V4, "127.0.0.1"]}),
    SsrfCase("mixed public A, private AAAA", "http://mixed6.test/a.png", "refused at submit", {"mixed6.test": [PUBLIC_V4, "::1"]}),
    SsrfCase("DNS rebinding (public, then private)", "http://rebind.test/a.png", "refused in worker", {"rebind.test": [[PUBLIC_V4], ["127.0.0.1"]]}),
    SsrfCase("name that does not resolve", "http://nxdomain.test/a.png", "refused at submit"),
    # Parser confusion
    SsrfCase("user info before a private host", "http://example.com@127.0.0.1/a.png", "refused at submit"),
    SsrfCase("user info before a public host", f"http://127.0.0.1@{PUBLIC_V4}/a.png", "refused at submit"),
    SsrfCase("backslash authority", "http://127.0.0.1\\@img.test/a.png", "refused at submit", IMG),
    SsrfCase("percent-encoded host", "http://%31%32%37.0.0.1/a.png", "refused at submit"),
    SsrfCase("tab inside the host", "http://127.0.0\t.1/a.png", "refused at submit"),
    SsrfCase("malformed port", "http://img.test:80:80/a.png", "refused at submit", IMG),
    # Redirects from a public host
    _redirect("redirect to loopback", "http://127.0.0.1/a.png"),
    _redirect("redirect to metadata", "http://169.254.169.254/latest/meta-data/"),
    _redirect("redirect to hex loopback", "http://0x7f.1/"),
    _redirect("redirect to a private name", "http://internal.test/", **{"internal.test": ["10.0.0.5"]}),
    _redirect("redirect to file:", "file:///etc/passwd"),
    _redirect("redirect to gopher:", "gopher://127.0.0.1:6379/_FLUSHALL"),
    _redirect("redirect loop (more than 3)", "http://img.test/a.png"),
    # Controls: public addresses are fetched, from the address that was checked
    SsrfCase("control: public IPv4", f"http://{PUBLIC_V4}/a.png", "fetched"),
    SsrfCase("control: public IPv6", f"http://[{PUBLIC_V6}]/a.png", "fetched"),
    SsrfCase("control: public name over https", "https://img.test/a.png", "fetched", IMG),
    SsrfCase("control: 6to4 wrapping a public address", "http://[2002:5db8:d822::1]/a.png", "fetched"),
]  # fmt: skip


@dataclass(frozen=True)
class SsrfObservation:
    at_submit: str
    in_worker: str
    contacted: list[str]  # "address (Host header, SNI)" of every connection made

    @property
    def outcome(self) -> Expect:
        if self.at_submit != "accepted":
            return "refused at submit"
        return "fetched" if self.in_worker == "fetched" else "refused in worker"


def observe(case: SsrfCase, data_dir: Path = Path("unused")) -> SsrfObservation:
    settings = Settings(data_dir=data_dir, fetch_timeout=5, _env_file=None)  # type: ignore[call-arg]
    transport = RecordingTransport(redirects=case.redirects)
    fetcher = ImageFetcher(settings, StaticResolver(case.dns), transport)
    try:
        fetcher.check(case.url, 0)
        at_submit = "accepted"
    except ImageError as exc:
        at_submit = f"400 {exc.reason}: {exc.message.removeprefix('images[0]: ')}"
    try:
        fetcher.fetch(case.url, 0)
        in_worker = "fetched"
    except ImageError as exc:
        in_worker = f"FAILED {exc.reason}: {exc.message.removeprefix('images[0]: ')}"
    contacted = [
        f"{c.address} (Host {c.host_header}" + (f", SNI {c.sni})" if c.sni else ")")
        for c in transport.connections
    ]
    return SsrfObservation(at_submit, in_worker, contacted)
