"""What the routes ask for: submit a task, read one as the contract's document. Routes stay thin."""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass, field
from typing import Any

from vidgate.errors import InvalidImageUrl, InvalidRequestBody, TaskNotFound
from vidgate.inputs.fetch import ImageFetcher
from vidgate.inputs.images import check_image_count, decode_data_uri, is_data_uri, normalise, store_image
from vidgate.media.audio.voices import CATALOGUE
from vidgate.results import ResultDocuments
from vidgate.schemas import SubmitRequest, TaskResult, VoiceInfo, VoiceList
from vidgate.settings import Settings
from vidgate.storage import ObjectStore
from vidgate.store.sql import SqlTaskStore
from vidgate.tasks.model import ApiKey, Task, TaskParams


@dataclass
class Services:
    settings: Settings
    store: SqlTaskStore
    objects: ObjectStore
    signing_secret: str
    fetcher: ImageFetcher = field(default=None)  # type: ignore[assignment]  # set in __post_init__
    results: ResultDocuments = field(init=False)

    def __post_init__(self) -> None:
        if self.fetcher is None:
            self.fetcher = ImageFetcher(self.settings)
        self.results = ResultDocuments(self.settings, self.store, self.signing_secret)

    def submit(
        self,
        tenant_id: str,
        request: SubmitRequest,
        idempotency_key: str | None = None,
        *,
        key: ApiKey | None = None,
        base_url: str = "",
    ) -> Task:
        """With `key`, the task counts against that key's limits (429 when they are used up)."""
        check_image_count(len(request.images), self.settings.max_images)
        if key is not None and key.limits.any and idempotency_key is None:
            self.store.check_quota(key)  # before decoding images: over its limit, a client costs little
        if request.audio:
            self._check_speech(request)
        if request.extra and request.extra.webhook:
            self.check_webhook_url(request.extra.webhook.url)
        request_hash = hashlib.sha256(request.model_dump_json().encode()).hexdigest()
        refs = [self._accept_image(ref, index) for index, ref in enumerate(request.images)]
        params = TaskParams(
            images=refs,
            prompt=request.prompt,
            duration=request.duration,
            resolution=request.resolution,
            movement_amplitude=request.movement_amplitude,
            seed=request.seed if request.seed is not None else secrets.randbelow(2**31),
            bgm=request.bgm,
            audio=request.audio,
            voice_id=request.voice_id,
            off_peak=request.off_peak,
            watermark=request.watermark,
            extra=self._extra(request, base_url),
        )
        task, _created = self.store.create_task(
            tenant_id,
            params,
            max_attempts=self.settings.max_attempts,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            key=key,
        )
        return task

    @staticmethod
    def _extra(request: SubmitRequest, base_url: str) -> dict[str, Any]:
        """The request's `extra`; a webhook also keeps the base URL the task was submitted to, for the
        video links of its delivery (a worker does not know under which name clients reach the API)."""
        extra = request.extra.model_dump(exclude_none=True) if request.extra else {}
        if "webhook" in extra:
            extra["webhook"]["result_base_url"] = base_url
        return extra

    def check_webhook_url(self, url: str) -> None:
        """http(s) only (a data: URI, good for images, is no place to deliver to); then the image
        URLs' rules for the rest: only to public addresses unless allowed."""

        def refuse(why: str) -> InvalidRequestBody:
            return InvalidRequestBody(f"Field 'extra.webhook.url': {why}.", {"field": "extra.webhook.url"})

        if not url.lower().startswith(("http://", "https://")):
            raise refuse("must be an http(s) URL")
        try:
            self.fetcher.check(url, 0)
        except InvalidImageUrl as exc:
            raise refuse(exc.message.removeprefix("images[0]: ").rstrip(".")) from None

    def _check_speech(self, request: SubmitRequest) -> None:
        """Speech that cannot fit the video, or (strict mode) an unknown voice, is a 400 now rather
        than a failed task later, and so is text to speak when speech is off. The worker runs the same
        deterministic code, so what passes here fits there."""
        # Imported here: numpy, scipy and eSpeak are paid for by requests with audio only.
        from vidgate.media.audio.mix import SpeechDoesNotFit
        from vidgate.media.audio.soundtrack import SoundOptions, check_speech
        from vidgate.media.audio.speech import SpeechDisabled
        from vidgate.media.audio.voices import UnknownVoice

        options = SoundOptions.from_settings(self.settings)
        try:
            check_speech(request.prompt, request.duration, len(request.images), request.voice_id, options)
        except SpeechDisabled as exc:
            raise InvalidRequestBody(
                f"Field 'prompt': {exc}.", {"field": "prompt", "speech": "off"}
            ) from None
        except UnknownVoice as exc:
            raise InvalidRequestBody(
                f"Field 'voice_id': {exc.voice_id!r} is not a voice of this server; "
                "GET /v3/voices lists the catalogue.",
                {"field": "voice_id", "voices": "/v3/voices"},
            ) from None
        except SpeechDoesNotFit as exc:
            raise InvalidRequestBody(
                f"Field 'prompt': {exc}.",
                {
                    "field": "prompt",
                    "speech_seconds": round(exc.needed_s, 2),
                    "available_seconds": round(exc.available_s, 2),
                    "max_speech_speed": exc.max_speed,
                },
            ) from None

    def _accept_image(self, ref: str, index: int) -> str:
        """Data URIs are checked and stored now (a bad one is a 400). URLs are checked now for what
        can be decided without downloading (scheme, host, what the host resolves to) and fetched by
        the worker, so submit never waits on a stranger's server."""
        if is_data_uri(ref):
            data = decode_data_uri(ref, index)
            png = normalise(data, index, self.settings.max_image_bytes, self.settings.max_image_pixels)
            return store_image(self.objects, png)
        self.fetcher.check(ref, index)
        return ref

    def voice_catalogue(self) -> VoiceList:
        return VoiceList(
            voices=[
                VoiceInfo(
                    voice_id=v.id,
                    language=v.language,
                    language_name=v.language_name,
                    gender=v.gender,
                    age=v.age,
                    description=v.description,
                )
                for v in CATALOGUE
            ],
            default_voice_id=self.settings.default_voice,
            strict=self.settings.strict_voices,
        )

    def get(self, task_id: str, tenant_id: str) -> Task:
        task = self.store.get_task(task_id, tenant_id) if is_task_id(task_id) else None
        if task is None:
            raise TaskNotFound(f"No task with id {task_id!r}.")
        return task

    def cancel(self, task_id: str, tenant_id: str) -> Task:
        task = self.store.request_cancel(task_id, tenant_id) if is_task_id(task_id) else None
        if task is None:
            raise TaskNotFound(f"No task with id {task_id!r}.")
        return task

    def result_document(self, task: Task, base_url: str) -> TaskResult:
        """Built in `vidgate.results`, which webhook deliveries use too: one document for both."""
        return self.results.document(task, base_url)


def is_task_id(text: str) -> bool:
    """Task ids are UUIDs; anything else is unknown without asking the database (which may refuse
    a NUL or an odd encoding with an error instead of no row)."""
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False
