"""Fetching image URLs: http(s) only, public addresses only (unless allowed), bounded in time and size.

The full SSRF hardening (connect to the checked address, every A/AAAA record, exotic host forms) is
tracked separately; this refuses the common cases and never follows more than a few redirects.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urljoin, urlsplit

import httpx

from vidgate.errors import ImageFileExceedsMaxSize, InvalidImageUrl

MAX_REDIRECTS = 3


def check_url(url: str, index: int, allow_private: bool, resolve: bool = True) -> None:
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InvalidImageUrl(
            f"images[{index}] must be an http(s) URL or a data:image/...;base64, URI.", {"index": index}
        )
    if allow_private or not resolve:
        return
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError):
        raise InvalidImageUrl(
            f"images[{index}]: host {parts.hostname!r} does not resolve.", {"index": index}
        ) from None
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if not address.is_global:
            raise InvalidImageUrl(
                f"images[{index}]: host {parts.hostname!r} is not a public address.", {"index": index}
            )


def fetch_image(url: str, index: int, *, max_bytes: int, timeout: float, allow_private: bool) -> bytes:
    with httpx.Client(timeout=timeout, follow_redirects=False) as client:
        for _ in range(MAX_REDIRECTS + 1):
            check_url(url, index, allow_private)
            try:
                with client.stream("GET", url) as response:
                    if response.is_redirect and "location" in response.headers:
                        url = urljoin(url, response.headers["location"])
                        continue
                    if response.status_code != 200:
                        raise InvalidImageUrl(
                            f"images[{index}]: the URL answered HTTP {response.status_code}.",
                            {"index": index},
                        )
                    return _read_capped(response, index, max_bytes)
            except httpx.HTTPError as exc:
                raise InvalidImageUrl(
                    f"images[{index}]: the URL could not be fetched ({type(exc).__name__}).", {"index": index}
                ) from None
    raise InvalidImageUrl(f"images[{index}]: more than {MAX_REDIRECTS} redirects.", {"index": index})


def _read_capped(response: httpx.Response, index: int, max_bytes: int) -> bytes:
    declared = response.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise ImageFileExceedsMaxSize(f"images[{index}] is larger than {max_bytes} bytes.", {"index": index})
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > max_bytes:
            raise ImageFileExceedsMaxSize(
                f"images[{index}] is larger than {max_bytes} bytes.", {"index": index}
            )
        chunks.append(chunk)
    return b"".join(chunks)
