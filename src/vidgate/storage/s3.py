"""An S3 bucket as object store: AWS S3 or any S3 API (MinIO, Ceph, Cloudflare R2, moto), for API
and worker processes on many machines that share no folder.

S3 writes are atomic (an object appears whole or not at all), so no temporary names are needed.
Videos are not streamed through the API: `download_url` presigns a GET that the API's own signed
link redirects to, so clients download straight from the bucket, with byte ranges for seeking.

Needs the `s3` extra (boto3). Credentials come from the settings when set, else from boto3's usual
chain (its environment variables, `~/.aws`, an instance or pod role).
"""

from __future__ import annotations

import contextlib
import mimetypes
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from vidgate.settings import Settings
from vidgate.storage import StorageUnavailable, check_key

if TYPE_CHECKING:  # boto3 is an optional dependency: imported where a store is made
    from botocore.client import BaseClient

# Generous for a slow bucket, short enough that a dead endpoint fails a request, not a worker.
CONNECT_TIMEOUT_S = 5
READ_TIMEOUT_S = 60
# botocore's "standard" mode retries throttling and transient errors with backoff.
MAX_ATTEMPTS = 5
NOT_FOUND_CODES = frozenset({"404", "NoSuchKey", "NotFound"})


class S3Store:
    def __init__(
        self, client: BaseClient, bucket: str, prefix: str = "", presign_client: BaseClient | None = None
    ):
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        # Presigned URLs name the host clients reach, which may differ from the one we use.
        self.presign_client = presign_client or client

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Store:
        """The bucket named by `storage_url` (`s3://bucket/prefix`), checked to answer, so that a
        wrong name or credential stops the process at start with a clear message."""
        try:
            import boto3
            from botocore.config import Config
        except ImportError:
            raise StorageUnavailable(
                "VIDGATE_STORAGE_URL names an S3 bucket, which needs the s3 extra: pip install 'vidgate[s3]'"
            ) from None
        location = urlsplit(settings.storage_url)
        config = Config(
            connect_timeout=CONNECT_TIMEOUT_S,
            read_timeout=READ_TIMEOUT_S,
            retries={"max_attempts": MAX_ATTEMPTS, "mode": "standard"},
            signature_version="s3v4",
            # Other S3 APIs are reached by path (bucket in the path), which needs no wildcard DNS.
            s3={"addressing_style": "path" if settings.s3_endpoint_url else "auto"},
        )
        options: dict[str, Any] = {"config": config, "region_name": settings.s3_region or None}
        if settings.s3_access_key_id:
            options["aws_access_key_id"] = settings.s3_access_key_id
            options["aws_secret_access_key"] = settings.s3_secret_access_key.get_secret_value()
        client = boto3.client("s3", endpoint_url=settings.s3_endpoint_url or None, **options)
        presign_client = None
        if settings.s3_public_endpoint_url:
            presign_client = boto3.client("s3", endpoint_url=settings.s3_public_endpoint_url, **options)
        store = cls(client, location.netloc, location.path, presign_client)
        store.check()
        return store

    def check(self) -> None:
        """Raise StorageUnavailable unless the bucket answers to our credentials."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.head_bucket(Bucket=self.bucket)
        except (BotoCoreError, ClientError) as exc:
            raise StorageUnavailable(f"S3 bucket {self.bucket!r} is not reachable: {exc}") from None

    def _key(self, key: str) -> str:
        check_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def put_bytes(self, key: str, data: bytes) -> None:
        self.client.put_object(
            Bucket=self.bucket, Key=self._key(key), Body=data, ContentType=_content_type(key)
        )

    def put_file(self, key: str, source: Path) -> None:
        # upload_file goes multipart for large files, in parallel parts, and aborts them on failure.
        extra = {"ContentType": _content_type(key)}
        self.client.upload_file(str(source), self.bucket, self._key(key), ExtraArgs=extra)
        source.unlink()

    def get_bytes(self, key: str) -> bytes:
        from botocore.exceptions import ClientError

        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if _is_not_found(exc):
                raise FileNotFoundError(key) from None
            raise
        with contextlib.closing(answer["Body"]) as stream:  # closed even when the read fails
            body: bytes = stream.read()
        return body

    def exists(self, key: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if _is_not_found(exc):
                return False
            raise
        return True

    def size(self, key: str) -> int | None:
        from botocore.exceptions import ClientError

        try:
            head = self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except ClientError as exc:
            if _is_not_found(exc):
                return None
            raise
        return int(head["ContentLength"])

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))  # no error when absent

    def local_path(self, key: str) -> Path | None:
        return None

    def download_url(self, key: str, expires_in: int, method: str = "GET") -> str | None:
        # S3 signs the method into the URL: a HEAD needs a URL presigned for head_object.
        operation = {"GET": "get_object", "HEAD": "head_object"}[method]
        url: str = self.presign_client.generate_presigned_url(
            operation, Params={"Bucket": self.bucket, "Key": self._key(key)}, ExpiresIn=expires_in
        )
        return url


def _content_type(key: str) -> str:
    return mimetypes.guess_type(key)[0] or "application/octet-stream"


def _is_not_found(exc: Any) -> bool:
    return str(exc.response.get("Error", {}).get("Code", "")) in NOT_FOUND_CODES
