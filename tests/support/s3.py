"""A real S3 API for the storage tests: moto in server mode (the fixture is in conftest.py)."""

from __future__ import annotations

from typing import Any

import pytest

S3_CREDENTIALS = {"aws_access_key_id": "test", "aws_secret_access_key": "test", "region_name": "us-east-1"}


def s3_client(endpoint: str) -> Any:
    boto3 = pytest.importorskip("boto3", reason="S3 tests need boto3 (the dev extra)")
    return boto3.client("s3", endpoint_url=endpoint, **S3_CREDENTIALS)
