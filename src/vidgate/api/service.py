"""What the routes ask for: submit a task, read one as the contract's document. Routes stay thin."""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import urlsplit

from vidgate import engines
from vidgate.api.speech_check import SpeechCheckPool, SpeechQuestion, shared_pool
from vidgate.errors import (
    ApiNotFound,
    FileExpired,
    FileNotFound,
    InvalidRequestBody,
    ServiceUnavailable,
    TaskNotFound,
    VidgateError,
)
from vidgate.inputs.fetch import ImageFetcher, UrlRefused
from vidgate.inputs.images import (
    STORED_PREFIX,
    check_image_count,
    decode_data_uri,
    is_data_uri,
    normalise,
    store_image,
)
from vidgate.results import ResultDocuments
from vidgate.schemas import (
    EngineInfo,
    EngineLimitsInfo,
    EngineList,
    SubmitRequest,
    TaskList,
    TaskResult,
    UsageFigures,
    UsageReport,
    UsageRow,
    VoiceInfo,
    VoiceList,
)
from vidgate.settings import Settings
from vidgate.storage import ObjectStore
from vidgate.store.retention import STORE_TRIES, InputsGone
from vidgate.store.sql import SqlTaskStore
from vidgate.tasks.model import ApiKey, Task, TaskStatus
from vidgate.tasks.usage import BadUsageQuery, parse_usage_query
from vidgate.voices_catalogue import CATALOGUE

log = logging.getLogger("vidgate.api")
UNSERVED_WARNING_S = 60.0


@dataclass
class Services:
    settings: Settings
    store: SqlTaskStore
    objects: ObjectStore
    signing_secret: str
    fetcher: ImageFetcher = field(default=None)  # type: ignore[assignment]  # set in __post_init__
    speech_checks: SpeechCheckPool = field(default=None)  # type: ignore[assignment]  # set in __post_init__
    results: ResultDocuments = field(init=False)
    _unserved_checked: dict[str, float] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        if self.fetcher is None:
            self.fetcher = ImageFetcher(self.settings)
        if self.speech_checks is None:
            self.speech_checks = shared_pool(self.settings.speech_check_processes)
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
        requested = request.extra.engine if request.extra else None
        engine = engines.choose_engine(requested, key.engine if key else None, self.settings)
        # Checked on the request's own image list first, so an impossible request decodes nothing.
        limits = engines.check_request(engine, request.to_params(request.images), self.settings)
        # vidgate's own speech, only where vidgate speaks: an engine that makes its own sound (an
        # upstream provider) takes the prompt and voice_id as they are.
        if request.audio and "audio" not in limits.renders_itself:
            self._check_speech(request)
        if request.extra and request.extra.webhook:
            self.check_webhook_url(request.extra.webhook.url)
        request_hash = hashlib.sha256(request.model_dump_json().encode()).hexdigest()
        accepted = [self._accept_image(ref, index) for index, ref in enumerate(request.images)]
        params = request.to_params([ref for ref, _png in accepted], self._extra(request, base_url))
        stored = [(ref, png) for ref, png in accepted if png is not None]
        for tries_left in reversed(range(STORE_TRIES)):
            try:
                task, _created = self.store.create_task(
                    tenant_id,
                    params,
                    max_attempts=self.settings.max_attempts,
                    idempotency_key=idempotency_key,
                    request_hash=request_hash,
                    key=key,
                    engine=engine,
                    estimate_ms=engines.spec(engine).estimate_ms(params, self.settings),
                    stored_inputs=[ref.removeprefix(STORED_PREFIX) for ref, _png in stored],
                )
                break
            except InputsGone:  # retention took an input between its store and this insert
                if not tries_left:
                    raise ServiceUnavailable(
                        "The request's images could not be kept; please retry."
                    ) from None
                for _ref, png in stored:
                    store_image(self.objects, png, self.store.retention.register_input)
        self._warn_if_unserved(engine)
        return task

    def _warn_if_unserved(self, engine: str) -> None:
        """Say in the log, at most once a minute per engine, that tasks wait for a worker: the registry
        is read at most once a minute per engine too, not on every submit."""
        now = time.monotonic()
        if now < self._unserved_checked.get(engine, -UNSERVED_WARNING_S) + UNSERVED_WARNING_S:
            return
        self._unserved_checked[engine] = now
        if self.store.workers.live_by_engine().get(engine, 0) == 0:
            log.warning("engine %s has no live worker: its tasks wait QUEUED until one starts", engine)

    @staticmethod
    def _extra(request: SubmitRequest, base_url: str) -> dict[str, Any]:
        """The request's `extra`; a webhook also keeps the base URL the task was submitted to, for the
        video links of its delivery (a worker does not know under which name clients reach the API)."""
        extra = request.extra.model_dump(exclude_none=True, exclude={"engine"}) if request.extra else {}
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
            self.fetcher.check_url(url)
        except UrlRefused as exc:
            raise refuse(exc.why) from None

    def _check_speech(self, request: SubmitRequest) -> None:
        """Speech that cannot fit the video, or (strict mode) an unknown voice, is a 400 now rather
        than a failed task later, and so is text to speak when speech is off. The worker runs the same
        deterministic code, so what passes here fits there. It runs in the speech-check pool's
        processes (`api/speech_check.py`), never on this thread."""
        s = self.settings
        question = SpeechQuestion(
            request.prompt, request.duration, len(request.images), request.voice_id,
            s.default_voice, s.strict_voices, s.max_speech_speed, s.speech,
        )  # fmt: skip
        self.speech_checks.check(question)

    def _accept_image(self, ref: str, index: int) -> tuple[str, bytes | None]:
        """Data URIs are checked and stored now (a bad one is a 400). URLs are checked now for what
        can be decided without downloading (scheme, host, what the host resolves to) and fetched by
        the worker, so submit never waits on a stranger's server. The reference, and the stored bytes
        (None for a URL)."""
        if is_data_uri(ref):
            data = decode_data_uri(ref, index)
            png = normalise(data, index, self.settings.max_image_bytes, self.settings.max_image_pixels)
            return store_image(self.objects, png, self.store.retention.register_input), png
        self.fetcher.check(ref, index)
        return ref, None

    def missing_file(self, key: str) -> VidgateError:
        """What a signed link to a file that is not there answers: 410 when retention deleted it."""
        if self.store.retention.is_expired_video(key):
            retention = self.settings.retention
            return FileExpired(
                f"This video was deleted after the retention period ({retention}); the task remains.",
                {"retention": retention},
            )
        return FileNotFound("The file is no longer available.")

    def usage(
        self, tenant_id: str, since: str | None, until: str | None, group_by: str | None
    ) -> UsageReport:
        """The tenant's figures from the usage ledger, over UTC days, grouped as asked."""
        try:
            query = parse_usage_query(since, until, group_by)
        except BadUsageQuery as exc:
            raise InvalidRequestBody(f"Field '{exc.field}': {exc}", {"field": exc.field}) from None
        rows = self.store.usage.report(
            since=query.since, until=query.until, group_by=query.group_by, tenant_id=tenant_id
        )
        names = {"day": "day", "key": "key_id", "engine": "engine"}
        totals = {name: sum(getattr(row.figures, name) for row in rows) for name in UsageFigures.model_fields}
        return UsageReport(
            tenant_id=tenant_id,
            since=query.since.isoformat(),
            until=query.until.isoformat(),
            group_by=list(query.group_by),
            rows=[
                UsageRow(**asdict(row.figures), **{names[group]: value for group, value in row.group.items()})
                for row in rows
            ],
            totals=UsageFigures(**totals),
        )

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

    def list_tasks(
        self, tenant_id: str, status: str | None, limit: int, cursor: str | None, base_url: str
    ) -> TaskList:
        """A page of the tenant's tasks, newest first; `status` with or without `TASK_STATUS_`."""
        wanted = None if status is None else parse_status(status)
        after = None if cursor is None else parse_cursor(cursor)
        tasks = self.store.list_tasks(tenant_id, status=wanted, limit=limit, after=after)
        next_cursor = f"{tasks[-1].created_ms}_{tasks[-1].id}" if len(tasks) == limit else None
        return TaskList(tasks=self.results.documents(tasks, base_url), next_cursor=next_cursor)

    def engine_catalogue(self) -> EngineList:
        live = self.store.workers.live_by_engine()
        listed = []
        for name in self.settings.enabled_engines():
            spec, limits = engines.spec(name), engines.spec(name).limits(self.settings)
            listed.append(
                EngineInfo(
                    name=name,
                    description=spec.description,
                    default=name == self.settings.engine,
                    limits=EngineLimitsInfo(
                        durations=list(limits.durations),
                        resolutions=list(limits.resolutions),
                        min_images=limits.min_images,
                        max_images=engines.max_images(limits, self.settings),
                        honours=sorted(limits.honours),
                        renders_itself=sorted(limits.renders_itself),
                        max_running=limits.max_running,
                        notes=limits.notes,
                    ),
                    workers=live.get(name, 0),
                    served=live.get(name, 0) > 0,
                )
            )
        return EngineList(engines=listed, default=self.settings.engine)

    def record_vidu_callback(
        self, task_id: str, headers: dict[str, str], path: str, query: str, body: bytes
    ) -> bool:
        """Check a Vidu callback's signature and record its body for the task's worker to read."""
        from vidgate.engines.vidu.callback import verify_callback

        if "vidu" not in self.settings.enabled_engines():
            raise ApiNotFound("This server runs no vidu engine.")
        # The provider signed the URL it was given: behind a proxy that strips a path prefix of
        # VIDGATE_PUBLIC_BASE_URL, the path received here lacks that prefix.
        prefix = urlsplit(self.settings.public_base_url).path.rstrip("/")
        signed_path = path if not prefix or path.startswith(f"{prefix}/") else prefix + path
        key = self.settings.vidu_api_key.get_secret_value()
        event = verify_callback(headers, signed_path, query, body, key)
        task = self.store.get_task(task_id) if is_task_id(task_id) else None
        if task is None or task.engine != "vidu":
            raise TaskNotFound(f"No vidu task with id {task_id!r}.")
        return self.store.push_engine_event(task_id, event)


def parse_status(text: str) -> TaskStatus:
    try:
        return TaskStatus(text.removeprefix("TASK_STATUS_"))
    except ValueError:
        allowed = [known.value for known in TaskStatus]
        raise InvalidRequestBody(
            f"Field 'status': unknown status {text!r}; use one of {', '.join(allowed)} "
            "(the TASK_STATUS_ prefix is optional).",
            {"field": "status", "allowed": allowed},
        ) from None


def parse_cursor(cursor: str) -> tuple[int, str]:
    """`<created_ms>_<task id>`, as `next_cursor` gives it."""
    created, _, task_id = cursor.partition("_")
    # isascii: "²".isdigit() is true, int("²") is not; 15 digits: milliseconds for 30,000 years.
    if not (created.isascii() and created.isdigit() and len(created) <= 15) or not is_task_id(task_id):
        raise InvalidRequestBody("Field 'cursor': not a cursor this server issued.", {"field": "cursor"})
    return int(created), task_id


def is_task_id(text: str) -> bool:
    """Task ids are UUIDs; anything else is unknown without asking the database (which may refuse
    a NUL or an odd encoding with an error instead of no row)."""
    try:
        return str(uuid.UUID(text)) == text
    except ValueError:
        return False
