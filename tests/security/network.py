"""Stand-ins for DNS and the network that the tests control: answers chosen per host name (and per
call, for rebinding), and a transport that records every connection the fetcher would make."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import httpx

from support.media import make_image
from vidgate.inputs.addresses import IPAddress

Answer = Sequence[str]


class StaticResolver:
    """DNS answers the test chooses. A host maps to its addresses, or to a list of answers handed out
    in turn (the last one repeats): a rebinding server answers differently the second time."""

    def __init__(self, answers: Mapping[str, Answer | Sequence[Answer]] | None = None) -> None:
        self.answers = dict(answers or {})
        self.calls: list[str] = []

    def resolve(self, host: str, port: int) -> list[IPAddress]:
        asked_before = self.calls.count(host)
        self.calls.append(host)
        if host not in self.answers:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        answer = self.answers[host]
        if answer and not isinstance(answer[0], str):  # a sequence of answers
            answer = answer[min(asked_before, len(answer) - 1)]
        return [ipaddress.ip_address(a) for a in answer]  # type: ignore[arg-type]


@dataclass
class Connection:
    address: str  # where the connection went
    host_header: str
    sni: str | None


@dataclass
class RecordingTransport(httpx.BaseTransport):
    """Answers every request with a small PNG, or a redirect for hosts in `redirects`; records where
    each request was sent. Nothing leaves the process."""

    redirects: dict[str, str] = field(default_factory=dict)  # Host header -> Location
    body: bytes = field(default_factory=lambda: make_image(32, 32))
    connections: list[Connection] = field(default_factory=list)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        host = request.headers["host"]
        sni = request.extensions.get("sni_hostname")
        self.connections.append(Connection(request.url.host, host, sni))
        if host in self.redirects:
            return httpx.Response(302, headers={"Location": self.redirects[host]})
        return httpx.Response(200, headers={"Content-Type": "image/png"}, content=self.body)
