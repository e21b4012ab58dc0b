"""The provider's signed callbacks: how Vidu signs them, and how vidgate checks them.

Vidu POSTs the task body to `callback_url` on each state change, signed with the account's API key:

    X-HMAC-SIGNATURE = base64(HMAC-SHA256(key, "POST\\n" + path + "\\n" + query + "\\nvidu\\n" + Date
                                              + "\\nDate:" + Date + "\\nx-request-nonce:" + nonce + "\\n"))

The signature covers the method, path, query, Date and nonce, but not the body. So a callback is only
ever a hint: the engine polls the provider (`GET .../creations`) for the truth as soon as one arrives,
and never acts on a callback's body alone. `verify_callback` also refuses a Date too far from now,
which bounds how long a captured callback can be replayed; the route may also remember nonces.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping
from email.utils import formatdate, parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode

from vidgate import clock
from vidgate.errors import InvalidCallbackSignature

# Where the API receives the provider's callbacks; `?task_id=` names vidgate's task.
CALLBACK_PATH = "/v3/providers/vidu/callback"
ACCESS_KEY = "vidu"
ALGORITHM = "hmac-sha256"
SIGNED_HEADERS = "Date;x-request-nonce"
# A callback dated further than this from our clock is refused (replay window, clock skew).
MAX_SKEW_S = 300.0


def callback_url(public_base_url: str, task_id: str) -> str:
    return f"{public_base_url.rstrip('/')}{CALLBACK_PATH}?{urlencode({'task_id': task_id})}"


def string_to_sign(path: str, query: str, date: str, nonce: str) -> str:
    return f"POST\n{path}\n{query}\n{ACCESS_KEY}\n{date}\nDate:{date}\nx-request-nonce:{nonce}\n"


def signature(api_key: str, path: str, query: str, date: str, nonce: str) -> str:
    digest = hmac.new(api_key.encode(), string_to_sign(path, query, date, nonce).encode(), hashlib.sha256)
    return base64.b64encode(digest.digest()).decode()


def sign_callback(
    path: str, query: str, api_key: str, date: str | None = None, nonce: str | None = None
) -> dict[str, str]:
    """The headers the provider sends with a callback to `path?query` (what the test fake sends)."""
    date = date or formatdate(usegmt=True)
    nonce = nonce or secrets.token_hex(16)
    return {
        "Date": date,
        "x-request-nonce": nonce,
        "X-HMAC-SIGNED-HEADERS": SIGNED_HEADERS,
        "X-HMAC-ALGORITHM": ALGORITHM,
        "X-HMAC-ACCESS-KEY": ACCESS_KEY,
        "X-HMAC-SIGNATURE": signature(api_key, path, query, date, nonce),
    }


def verify_callback(
    headers: Mapping[str, str],
    path: str,
    query: str,
    body: bytes,
    api_key: str,
    now: float | None = None,
    max_skew_s: float = MAX_SKEW_S,
) -> dict[str, Any]:
    """The callback's task body when its signature is the provider's; else `InvalidCallbackSignature`
    (a 401 that must change nothing). `headers` is looked up case-insensitively; `path` and `query` are
    the request's as received (the query without its `?`)."""
    lower = {name.lower(): value for name, value in headers.items()}

    def refuse(why: str) -> InvalidCallbackSignature:
        return InvalidCallbackSignature(f"The provider callback was refused: {why}.")

    missing = [
        name
        for name in ("Date", "x-request-nonce", "X-HMAC-SIGNATURE", "X-HMAC-ALGORITHM", "X-HMAC-ACCESS-KEY")
        if not lower.get(name.lower())
    ]
    if missing:
        raise refuse(f"missing header(s) {', '.join(missing)}")
    if lower["x-hmac-algorithm"].lower() != ALGORITHM or lower["x-hmac-access-key"] != ACCESS_KEY:
        raise refuse("unknown signing algorithm or access key")
    signed = lower.get("x-hmac-signed-headers", SIGNED_HEADERS)
    if [h.strip().lower() for h in signed.split(";")] != ["date", "x-request-nonce"]:
        raise refuse("the signed headers are not Date;x-request-nonce")
    if not api_key:
        raise refuse("no API key to check it with")
    expected = signature(api_key, path, query, lower["date"], lower["x-request-nonce"])
    if not hmac.compare_digest(expected.encode(), lower["x-hmac-signature"].strip().encode()):
        raise refuse("the signature does not match")
    try:
        sent = parsedate_to_datetime(lower["date"]).timestamp()
    except (TypeError, ValueError):
        raise refuse("the Date header is not a date") from None
    if abs((clock.now() if now is None else now) - sent) > max_skew_s:
        raise refuse(f"its Date is more than {max_skew_s:.0f} s from now")
    try:
        task = json.loads(body)
    except ValueError:
        raise refuse("the body is not JSON") from None
    if not isinstance(task, dict):
        raise refuse("the body is not a JSON object")
    return task
