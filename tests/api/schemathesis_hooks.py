"""A check for schemathesis (loaded by test_schemathesis.py through SCHEMATHESIS_HOOKS).

`positive_data_acceptance` wants every schema-valid request accepted. A submit can be valid by its
schema and still refused for what no JSON schema can state: an image's content (random base64 is
no PNG), a host's addresses (public or not, resolving or not), speech too long for the video, an
integer written as `5.0` (JSON Schema counts it an integer; the contract, strict, does not). The
run lets submits answer 400 for that (schemathesis.toml), and this check makes sure that such a 400
names one of those reasons and nothing the schema could have said (a length, a pattern, a count).
"""

from __future__ import annotations

import json
from typing import Any

import schemathesis

SUBMIT = "POST /v3/async/vidu-q2-pro-img2video"
USAGE = "GET /v3/usage"
# How the usage report words a window no schema can state: a date no calendar has, since after
# until, more days than a report takes.
WINDOW_REFUSALS = ("is not a date", "is after until", "days per report")
IMAGE_REASONS = {
    "INVALID_IMAGE_FORMAT",
    "IMAGE_FILE_EXCEEDS_MAX_SIZE",
    "IMAGE_EXCEEDS_MAX_RESOLUTION",
    "INVALID_IMAGE_SIZE",
    "INVALID_IMAGE_URL",
}
# How the URL check words a refusal about the host, which only the network can tell.
HOST_REFUSALS = ("does not resolve", "is not a public address", "the host is not valid")


def beyond_any_schema(envelope: dict[str, Any], body: object) -> bool:
    reason, message, metadata = envelope["reason"], envelope["message"], envelope["metadata"]
    if reason in IMAGE_REASONS:
        return True
    field = metadata.get("field")
    if isinstance(body, dict) and isinstance(body.get(field), float):
        return "valid integer" in message
    if field == "extra.webhook.url":
        return any(words in message for words in HOST_REFUSALS)
    return field == "prompt" and "speech_seconds" in metadata  # the words do not fit the video


@schemathesis.check
def valid_submits_are_refused_only_for_what_no_schema_states(ctx, response, case) -> None:  # type: ignore[no-untyped-def]
    positive = case.meta is not None and case.meta.generation.mode.is_positive
    if not positive or response.status_code != 400:
        return
    envelope = json.loads(response.content)
    if case.operation.label == USAGE:
        if not any(words in envelope["message"] for words in WINDOW_REFUSALS):
            raise AssertionError(f"A schema-valid usage query was refused: {envelope['message']}")
        return
    if case.operation.label != SUBMIT:
        return
    if not beyond_any_schema(envelope, case.body):
        raise AssertionError(
            f"A schema-valid submit was refused for what the schema could state: {envelope['reason']}: "
            f"{envelope['message']} (make the schema say it)"
        )
