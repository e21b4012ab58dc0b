"""API keys: `Authorization: Bearer <key>` names the tenant a request acts for."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from vidgate.errors import InvalidApiKey, MissingApiKey
from vidgate.tasks.model import ApiKey

# Declares the scheme in the OpenAPI document (clients and schemathesis read it); the header is
# parsed below, because a bare key must work too and errors must be the contract's envelope.
bearer_scheme = HTTPBearer(auto_error=False, description="Your API key: `Authorization: Bearer <key>`.")


def require_key(
    request: Request, _declared: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer_scheme)]
) -> ApiKey:
    header = request.headers.get("authorization", "").strip()
    scheme, _, token = header.partition(" ")
    # Some clients send the bare key; accept it as the hosted gateways do.
    secret = token.strip() if scheme.lower() == "bearer" else header
    if not secret:
        raise MissingApiKey("Send your API key as 'Authorization: Bearer <key>'.")
    key = request.app.state.services.store.keys.authenticate(secret)
    if key is None:
        raise InvalidApiKey("The API key is unknown or revoked.")
    return key
