"""Fetching image URLs that strangers send: the server must never be made to reach its own network.

Every hop (the URL and each of at most 3 redirects) is checked the same way: http(s) only, no user
info, the host read as a browser reads it (`0x7f.1` is 127.0.0.1), every address it resolves to
public, or the URL is refused and nothing is contacted. The connection then goes to the address that
was checked: the URL handed to httpx names that IP, the `Host` header and TLS SNI name the host, and
the certificate is verified for the host name. There is no second DNS lookup, so no DNS-rebinding
window between check and connect. Time and bytes are bounded while streaming; what comes back must
say it is an image or start like one.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import socket
import ssl
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol
from urllib.parse import urljoin, urlsplit

import httpx

from vidgate.errors import ImageFileExceedsMaxSize, InvalidImageUrl
from vidgate.inputs.addresses import HostError, IPAddress, is_public, parse_host
from vidgate.settings import Settings

log = logging.getLogger("vidgate.inputs")
_private_url_hint_logged = threading.Event()
MAX_REDIRECTS = 3
MAX_ADDRESSES_TRIED = 3  # of one host's (all checked) addresses, when connecting to one fails
CONNECT_TIMEOUT_S = 5.0
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
DEFAULT_PORTS = {"http": 80, "https": 443}
UNREACHABLE_ERRNOS = frozenset({errno.ENETUNREACH, errno.EHOSTUNREACH})
IMAGE_MAGIC = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")  # PNG, JPEG; WebP is RIFF....WEBP


class Resolver(Protocol):
    def resolve(self, host: str, port: int) -> list[IPAddress]:
        """Every A and AAAA address of `host`; raise OSError when it does not resolve."""


class SystemResolver:
    def resolve(self, host: str, port: int) -> list[IPAddress]:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses: list[IPAddress] = []
        for info in infos:
            address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
            if address not in addresses:
                addresses.append(address)
        return addresses


@dataclass(frozen=True)
class Target:
    """One checked hop: where to connect and what to tell the server."""

    url: str  # as the client sent it (redirects resolve against it)
    scheme: str
    host: str  # for Host and SNI
    port: int
    path: str  # path and query
    addresses: tuple[IPAddress, ...]  # all public (or private allowed), in resolver order

    def request_url(self, address: IPAddress) -> str:
        literal = f"[{address}]" if address.version == 6 else str(address)
        return f"{self.scheme}://{literal}:{self.port}{self.path}"

    @property
    def host_header(self) -> str:
        return self.host if self.port == DEFAULT_PORTS[self.scheme] else f"{self.host}:{self.port}"

    @property
    def tls_extensions(self) -> dict[str, str]:
        """httpx request extensions for connecting to an address: TLS names the host (SNI), for a
        certificate check against it; SNI carries host names only, never address literals."""
        return {"sni_hostname": self.host} if self.scheme == "https" and not _is_ip(self.host) else {}


class UrlRefused(Exception):
    """A URL vidgate will not fetch from (or deliver to); `why` says so in a user's words."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


class ImageFetcher:
    """Checks (at submit) and fetches (in the worker) image URLs under the settings' limits.

    `resolver` and `transport` are for tests: a stub resolver gives DNS answers the test controls, and
    an httpx transport stands in for the network (it sees every connection that would be made)."""

    def __init__(
        self,
        settings: Settings,
        resolver: Resolver | None = None,
        transport: httpx.BaseTransport | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.settings = settings  # read at each call: limits may be changed on a live object
        self.resolver = resolver or SystemResolver()
        self.transport = transport
        self.ssl_context = ssl_context

    def check(self, url: str, index: int) -> Target:
        """`check_url` for the image `images[index]`: a refusal is an InvalidImageUrl naming it."""
        try:
            return self.check_url(url)
        except UrlRefused as exc:
            raise InvalidImageUrl(f"images[{index}]: {exc.why}.", {"index": index}) from None

    def check_url(self, url: str) -> Target:
        """Refuse the URL unless it may be fetched: scheme, host form, and every resolved address.
        Raises `UrlRefused` with the words why; each caller names what the URL was for."""

        def refuse(why: str) -> UrlRefused:
            return UrlRefused(why)

        if any(ch.isspace() or ord(ch) < 0x20 or ch in "\\\x7f" for ch in url):
            raise refuse("the URL contains whitespace, control characters or a backslash")
        try:
            parts = urlsplit(url)
            port = parts.port
        except ValueError:
            raise refuse("the URL is malformed") from None
        scheme = parts.scheme.lower()
        if scheme not in DEFAULT_PORTS:
            raise refuse("must be an http(s) URL or a data:image/...;base64, URI")
        if "@" in parts.netloc:
            raise refuse("URLs with a user name or password are not accepted")
        try:
            host = parse_host(parts.hostname or "")
        except HostError as exc:
            raise refuse(f"the host is not valid ({exc})") from None
        port = port or DEFAULT_PORTS[scheme]
        if host.address is not None:
            addresses = [host.address]
        else:
            try:
                addresses = self.resolver.resolve(host.name, port)
            except (OSError, UnicodeError):
                raise refuse(f"host {host.name!r} does not resolve") from None
            if not addresses:
                raise refuse(f"host {host.name!r} does not resolve")
        if not self.settings.allow_private_urls and not all(is_public(a) for a in addresses):
            # One private answer among public ones is enough to refuse: which one a connection
            # would use is not ours to predict, and a resolver mixing them is an attack.
            # The client hears only that; the operator's log says, once (probes must not flood it),
            # how a development machine allows it.
            if not _private_url_hint_logged.is_set():
                _private_url_hint_logged.set()
                log.warning(
                    "refused a URL on %r, a private address; on a development machine, "
                    "VIDGATE_ALLOW_PRIVATE_URLS=true allows such URLs (never on a server others can "
                    "reach). Said once per process.",
                    host.name,
                )
            raise refuse(f"host {host.name!r} is not a public address")
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        return Target(url, scheme, host.name, port, path, tuple(addresses))

    def fetch(self, url: str, index: int) -> bytes:
        """Download an image, following at most MAX_REDIRECTS redirects, each checked anew."""
        deadline = time.monotonic() + self.settings.fetch_timeout
        with self._client() as client:
            for hop in range(MAX_REDIRECTS + 1):
                try:
                    target = self.check(url, index)
                except InvalidImageUrl as exc:
                    if hop == 0:
                        raise
                    why = exc.message.removeprefix(f"images[{index}]: ").rstrip(".")
                    raise InvalidImageUrl(
                        f"images[{index}]: a redirect led to a refused URL ({why}).", {"index": index}
                    ) from None
                location = self._get(client, target, index, deadline)
                if isinstance(location, bytes):
                    return location
                url = urljoin(target.url, location)
        raise InvalidImageUrl(f"images[{index}]: more than {MAX_REDIRECTS} redirects.", {"index": index})

    def _client(self) -> httpx.Client:
        verify: ssl.SSLContext | bool = self.ssl_context or True
        # trust_env=False: a proxy from the environment would connect on our behalf, to anything.
        return httpx.Client(
            follow_redirects=False,
            trust_env=False,
            verify=verify,
            transport=self.transport,
            headers={
                "Accept": "image/png,image/jpeg,image/webp;q=0.9,*/*;q=0.1",
                "Accept-Encoding": "identity",
            },
        )

    def _get(self, client: httpx.Client, target: Target, index: int, deadline: float) -> bytes | str:
        """The image bytes, or the Location of a redirect."""
        extensions = target.tls_extensions
        last_error: Exception | None = None
        for address in target.addresses[:MAX_ADDRESSES_TRIED]:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise InvalidImageUrl(f"images[{index}]: the download took too long.", {"index": index})
            request = client.build_request(
                "GET",
                target.request_url(address),
                headers={"Host": target.host_header},
                extensions=extensions,
                timeout=httpx.Timeout(remaining, connect=min(CONNECT_TIMEOUT_S, remaining)),
            )
            try:
                response = client.send(request, stream=True)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                last_error = exc
                continue
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                raise _unfetchable(index, exc) from None
            try:
                return self._read(response, index, deadline)
            except (httpx.HTTPError, httpx.InvalidURL) as exc:
                raise _unfetchable(index, exc) from None
            finally:
                response.close()
        raise _unfetchable(index, last_error)

    def _read(self, response: httpx.Response, index: int, deadline: float) -> bytes | str:
        if response.status_code in REDIRECT_CODES and response.headers.get("location"):
            return response.headers["location"]
        if response.status_code != 200:
            raise InvalidImageUrl(
                f"images[{index}]: the URL answered HTTP {response.status_code}.", {"index": index}
            )
        max_bytes = self.settings.max_image_bytes
        too_large = ImageFileExceedsMaxSize(
            f"images[{index}] is larger than {max_bytes} bytes.", {"index": index, "limit": max_bytes}
        )
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise too_large
        says_image = response.headers.get("content-type", "").strip().lower().startswith("image/")
        data = bytearray()
        for chunk in _chunks(response, deadline, index):
            data += chunk
            if len(data) > max_bytes:
                raise too_large
            if not says_image and len(data) >= 12 and not looks_like_image(bytes(data[:12])):
                break  # neither labelled nor shaped as an image: stop reading now
        if not says_image and not looks_like_image(bytes(data[:12])):
            raise InvalidImageUrl(f"images[{index}]: the URL did not return an image.", {"index": index})
        return bytes(data)


def _chunks(response: httpx.Response, deadline: float, index: int) -> Iterator[bytes]:
    """The body, bounded in total time too: a server trickling a byte at a time never times out a
    read, but it does run out the deadline."""
    for chunk in response.iter_bytes():
        if time.monotonic() > deadline:
            raise InvalidImageUrl(f"images[{index}]: the download took too long.", {"index": index})
        yield chunk


def looks_like_image(head: bytes) -> bool:
    return head.startswith(IMAGE_MAGIC) or (head[:4] == b"RIFF" and head[8:12] == b"WEBP")


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


def _unfetchable(index: int, exc: Exception | None) -> InvalidImageUrl:
    why = why_unfetchable(exc) if exc else "no address answered"
    return InvalidImageUrl(f"images[{index}]: the URL could not be fetched ({why}).", {"index": index})


def _kind(kind: type[BaseException]) -> Callable[[BaseException], bool]:
    return lambda error: isinstance(error, kind)


# The most telling first: a certificate error is also an SSL error; a connect timeout also a timeout.
FAILURE_WORDS: list[tuple[Callable[[BaseException], bool], str]] = [
    (_kind(ssl.SSLCertVerificationError), "the server's TLS certificate could not be verified"),
    (_kind(ssl.SSLError), "the TLS handshake failed"),
    (_kind(socket.gaierror), "the host name was not found in DNS"),
    (_kind(ConnectionRefusedError), "the connection was refused"),
    (_kind(ConnectionResetError), "the connection was reset"),
    (
        lambda error: isinstance(error, OSError) and error.errno in UNREACHABLE_ERRNOS,
        "the host is unreachable",
    ),
    (_kind(httpx.ConnectTimeout), "connecting timed out"),
    (_kind(httpx.TimeoutException), "the server took too long to answer"),
    (_kind(httpx.RemoteProtocolError), "the server did not answer in valid HTTP"),
]


def why_unfetchable(exc: Exception) -> str:
    """What went wrong, in words for whoever sent the URL (an httpx class name tells them nothing).

    httpx wraps httpcore's error, which wraps the system's (an OSError, an ssl error): the cause
    says most, so the whole chain is searched, the most telling kinds first."""
    chain: list[BaseException] = []
    cause: BaseException | None = exc
    while cause is not None and cause not in chain:
        chain.append(cause)
        cause = cause.__cause__ or cause.__context__

    for telling, words in FAILURE_WORDS:
        if any(telling(each) for each in chain):
            return words
    return "a network error"


def log_private_urls_allowed(settings: Settings) -> None:
    """Said once at start-up of every process that fetches or checks URLs."""
    if settings.allow_private_urls:
        log.warning(
            "VIDGATE_ALLOW_PRIVATE_URLS is on: image URLs may reach loopback and private addresses. "
            "Use it only for local development and tests."
        )
