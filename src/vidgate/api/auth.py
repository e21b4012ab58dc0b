"""API keys: `Authorization: Bearer <key>` names the tenant a request acts for."""

from __future__ import annotations

from fastapi import Request

from vidgate.errors import InvalidApiKey, MissingApiKey
from vidgate.tasks.model import ApiKey


def require_key(request: Request) -> ApiKey:
    header = request.headers.get("authorization", "").strip()
    scheme, _, token = header.partition(" ")
    # Some clients send the bare key; accept it as the hosted gateways do.
    secret = token.strip() if scheme.lower() == "bearer" else header
    if not secret:
        raise MissingApiKey("Send your API key as 'Authorization: Bearer <key>'.")
    key = request.app.state.services.store.authenticate(secret)
    if key is None:
        raise InvalidApiKey("The API key is unknown or revoked.")
    return key
