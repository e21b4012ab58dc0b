"""Copying the provider's finished video: download it safely, check it, tag it.

The download follows the image fetcher's address rules (`ImageFetcher.check`: public addresses only,
each redirect checked anew, the connection made to the address that was checked), unless the
operator allows the provider's own host (`VIDGATE_VIDU_ALLOW_PROVIDER_HOST`). It is bounded in size
and time. The file must be an MP4 with a decodable video stream (PyAV); provenance tags are then
added by remuxing, packet for packet, never by re-encoding the provider's pictures.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import av
import httpx

from vidgate import errors
from vidgate.engines.base import RenderError
from vidgate.engines.vidu.api import tls_context
from vidgate.inputs.fetch import (
    CONNECT_TIMEOUT_S,
    MAX_ADDRESSES_TRIED,
    MAX_REDIRECTS,
    REDIRECT_CODES,
    ImageFetcher,
    Target,
    UrlRefused,
    why_unfetchable,  # the same words for the same faults
)
from vidgate.settings import Settings

EXPIRED_CODES = frozenset({401, 403, 404, 410})  # how storage answers a signed URL past its lifetime


class VideoUrlExpired(RenderError):
    """The creation URL no longer works (they last 24 h): ask the provider for a fresh one."""


@dataclass(frozen=True)
class VideoFacts:
    width: int
    height: int
    frames: int
    fps: int


class VideoDownloader:
    def __init__(self, settings: Settings, fetcher: ImageFetcher | None = None) -> None:
        self.settings = settings
        self.fetcher = fetcher or ImageFetcher(settings)
        # Redirects are followed by hand, each hop checked; no proxy from the environment.
        self._http = httpx.Client(follow_redirects=False, trust_env=False, verify=tls_context())

    def close(self) -> None:
        self._http.close()

    def download(self, url: str, dest: Path, on_fraction: Callable[[float], None]) -> None:
        """Stream `url` to `dest`, atomically (a partial download never sits under its name)."""
        s = self.settings
        deadline = time.monotonic() + s.vidu_download_timeout
        partial = dest.with_name(f".{dest.name}.download")
        try:
            for _hop in range(MAX_REDIRECTS + 1):
                location = self._get(self._http, self._target(url), partial, deadline, on_fraction)
                if location is None:
                    os.replace(partial, dest)
                    return
                url = urljoin(url, location)
            raise _failed(f"more than {MAX_REDIRECTS} redirects")
        finally:
            partial.unlink(missing_ok=True)

    def _target(self, url: str) -> Target | str:
        """The checked hop, or the URL itself when the provider's host is allowed as it is."""
        s = self.settings
        provider_host = urlsplit(s.vidu_base_url).hostname
        if s.vidu_allow_provider_host and urlsplit(url).hostname == provider_host:
            return url
        try:
            return self.fetcher.check_url(url)
        except UrlRefused as exc:
            raise _failed(f"its URL was refused: {exc.why}") from None

    def _get(
        self,
        client: httpx.Client,
        target: Target | str,
        partial: Path,
        deadline: float,
        on_fraction: Callable[[float], None],
    ) -> str | None:
        """Download into `partial`; the Location of a redirect, or None when done."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise _failed("it took longer than VIDGATE_VIDU_DOWNLOAD_TIMEOUT")
        timeout = httpx.Timeout(remaining, connect=min(CONNECT_TIMEOUT_S, remaining))
        if isinstance(target, str):
            requests = [client.build_request("GET", target, timeout=timeout)]
        else:
            sni = target.tls_extensions
            requests = [
                client.build_request(
                    "GET",
                    target.request_url(address),
                    headers={"Host": target.host_header},
                    extensions=sni,
                    timeout=timeout,
                )
                for address in target.addresses[:MAX_ADDRESSES_TRIED]
            ]
        failure: Exception | None = None
        for request in requests:  # each of the host's checked addresses, while connecting fails
            try:
                response = client.send(request, stream=True)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                failure = exc
                continue
            except httpx.HTTPError as exc:
                raise _failed(why_unfetchable(exc)) from None
            try:
                return self._read(response, partial, deadline, on_fraction)
            except httpx.HTTPError as exc:
                raise _failed(why_unfetchable(exc)) from None
            finally:
                response.close()
        raise _failed(why_unfetchable(failure) if failure else "no address answered")

    def _read(
        self, response: httpx.Response, partial: Path, deadline: float, on_fraction: Callable[[float], None]
    ) -> str | None:
        if response.status_code in REDIRECT_CODES and response.headers.get("location"):
            return response.headers["location"]
        if response.status_code in EXPIRED_CODES:
            raise VideoUrlExpired(
                errors.UPSTREAM_DOWNLOAD_FAILED,
                f"the provider's video URL answered HTTP {response.status_code} (expired?).",
            )
        if response.status_code != 200:
            raise _failed(f"its URL answered HTTP {response.status_code}")
        cap = self.settings.vidu_max_video_bytes
        declared = response.headers.get("content-length", "")
        expected = int(declared) if declared.isdigit() else 0
        if expected > cap:
            raise _too_large(cap)
        received = 0
        with partial.open("wb") as out:
            for chunk in response.iter_bytes():
                received += len(chunk)
                if received > cap:
                    raise _too_large(cap)
                if time.monotonic() > deadline:
                    raise _failed("it took longer than VIDGATE_VIDU_DOWNLOAD_TIMEOUT")
                out.write(chunk)
                if expected:
                    on_fraction(min(1.0, received / expected))
        return None


def inspect_video(path: Path) -> VideoFacts:
    """The video's real size, frame count and rate; `UPSTREAM_VIDEO_INVALID` unless it is an MP4 whose
    video stream decodes."""
    try:
        with av.open(str(path)) as container:
            if "mp4" not in container.format.name.split(","):
                raise _invalid(f"it is {container.format.name}, not MP4")
            video = container.streams.video[0] if container.streams.video else None
            if video is None:
                raise _invalid("it has no video stream")
            frames, decoded = 0, False
            for packet in container.demux(video):
                if packet.size == 0:
                    continue  # the demuxer's end-of-stream marker
                frames += 1
                if not decoded:
                    decoded = bool(packet.decode())
            width, height = video.width, video.height
            rate = video.average_rate or video.guessed_rate or Fraction(0)
    except av.FFmpegError as exc:
        raise _invalid(f"it does not decode ({type(exc).__name__})") from None
    if frames == 0 or not width or not height:
        raise _invalid("its video stream has no frames")
    if not decoded:
        # A decoder may hold back its first frames; the whole stream then decodes at flush.
        _decodes_at_flush(path)
    return VideoFacts(width, height, frames, max(1, round(float(rate))))


def _decodes_at_flush(path: Path) -> None:
    try:
        with av.open(str(path)) as container:
            if next(container.decode(video=0), None) is None:
                raise _invalid("no frame of its video stream decodes")
    except av.FFmpegError as exc:
        raise _invalid(f"it does not decode ({type(exc).__name__})") from None


def add_tags(path: Path, tags: Mapping[str, str]) -> None:
    """Add MP4 metadata `tags` by remuxing `path` in place, packet for packet (no re-encoding)."""
    if not tags:
        return
    tagged = path.with_name(f".{path.name}.tagged")
    try:
        with (
            av.open(str(path)) as source,
            av.open(
                str(tagged), "w", format="mp4", options={"movflags": "+faststart+use_metadata_tags"}
            ) as out,
        ):
            out.metadata.update(source.metadata)
            out.metadata.update(tags)
            streams = [s for s in source.streams if s.type in ("video", "audio")]
            copies = {s.index: out.add_stream_from_template(s) for s in streams}
            for packet in source.demux(streams):
                if packet.dts is None:
                    continue  # end-of-stream markers carry no data
                packet.stream = copies[packet.stream.index]
                out.mux(packet)
        os.replace(tagged, path)
    except av.FFmpegError as exc:
        raise _invalid(f"it could not be remuxed to add provenance tags ({type(exc).__name__})") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            tagged.unlink()


def _failed(why: str) -> RenderError:
    return RenderError(errors.UPSTREAM_DOWNLOAD_FAILED, f"the provider's video could not be copied: {why}.")


def _too_large(cap: int) -> RenderError:
    return RenderError(
        errors.UPSTREAM_VIDEO_TOO_LARGE,
        f"the provider's video is larger than {cap} bytes (VIDGATE_VIDU_MAX_VIDEO_BYTES).",
    )


def _invalid(why: str) -> RenderError:
    return RenderError(errors.UPSTREAM_VIDEO_INVALID, f"the provider's video was refused: {why}.")
