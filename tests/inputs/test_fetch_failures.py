"""Why an image URL could not be fetched, in words a client can act on: never an httpx class name.

Real sockets where a test can make the failure happen on 127.0.0.1 (refused, timed out); a
transport raising what httpx raises (an httpx error wrapping the OSError or ssl error) for the rest."""

from __future__ import annotations

import errno
import socket
import ssl
from collections.abc import Iterator

import httpx
import pytest

from security.network import StaticResolver
from vidgate.errors import InvalidImageUrl
from vidgate.inputs.fetch import ImageFetcher
from vidgate.settings import Settings

PUBLIC_HOST = {"img.test": ["93.184.216.34"]}


def fetch_failure(fetcher: ImageFetcher, url: str) -> InvalidImageUrl:
    with pytest.raises(InvalidImageUrl) as caught:
        fetcher.fetch(url, 2)
    assert caught.value.reason == "INVALID_IMAGE_URL" and caught.value.metadata == {"index": 2}
    return caught.value


def raising(error: Exception, cause: BaseException | None = None) -> httpx.MockTransport:
    """A network that fails every request as httpx would: its error, caused by the system's."""
    error.__cause__ = cause

    def handler(_request: httpx.Request) -> httpx.Response:
        raise error

    return httpx.MockTransport(handler)


@pytest.fixture
def closed_port() -> int:
    """A port on 127.0.0.1 nothing listens on: connecting is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port on 127.0.0.1 that accepts connections and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_a_refused_connection_says_so(settings: Settings, closed_port: int) -> None:
    error = fetch_failure(ImageFetcher(settings), f"http://127.0.0.1:{closed_port}/a.png")
    assert error.message == "images[2]: the URL could not be fetched (the connection was refused)."


def test_a_server_that_never_answers_says_it_took_too_long(settings: Settings, silent_port: int) -> None:
    settings.fetch_timeout = 0.3
    error = fetch_failure(ImageFetcher(settings), f"http://127.0.0.1:{silent_port}/a.png")
    assert error.message in (
        "images[2]: the URL could not be fetched (the server took too long to answer).",
        "images[2]: the download took too long.",  # the deadline passed between two reads
    )


@pytest.mark.parametrize(
    ("error", "cause", "words"),
    [
        (
            httpx.ConnectError("[Errno 111]"),
            ConnectionRefusedError(errno.ECONNREFUSED, "refused"),
            "the connection was refused",
        ),
        (httpx.ConnectTimeout("timed out"), TimeoutError("timed out"), "connecting timed out"),
        (httpx.ReadTimeout("timed out"), TimeoutError("timed out"), "the server took too long to answer"),
        (
            httpx.ConnectError("certificate verify failed"),
            ssl.SSLCertVerificationError(1, "certificate verify failed: certificate has expired"),
            "the server's TLS certificate could not be verified",
        ),
        (
            httpx.ConnectError("handshake"),
            ssl.SSLError(1, "wrong version number"),
            "the TLS handshake failed",
        ),
        (
            httpx.ConnectError("[Errno -2]"),
            socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
            "the host name was not found in DNS",
        ),
        (
            httpx.ReadError("reset"),
            ConnectionResetError(errno.ECONNRESET, "reset by peer"),
            "the connection was reset",
        ),
        (
            httpx.ConnectError("[Errno 101]"),
            OSError(errno.ENETUNREACH, "Network is unreachable"),
            "the host is unreachable",
        ),
        (
            httpx.ConnectError("[Errno 113]"),
            OSError(errno.EHOSTUNREACH, "No route to host"),
            "the host is unreachable",
        ),
        (httpx.RemoteProtocolError("Server disconnected"), None, "the server did not answer in valid HTTP"),
        (httpx.WriteError("broken pipe"), BrokenPipeError(errno.EPIPE, "Broken pipe"), "a network error"),
    ],
    ids=lambda value: value if isinstance(value, str) else type(value).__name__,
)
def test_failures_are_told_in_plain_words(
    settings: Settings, error: Exception, cause: BaseException | None, words: str
) -> None:
    fetcher = ImageFetcher(settings, StaticResolver(PUBLIC_HOST), raising(error, cause))
    failure = fetch_failure(fetcher, "http://img.test/a.png")
    assert failure.message == f"images[2]: the URL could not be fetched ({words})."
    assert type(error).__name__ not in failure.message
