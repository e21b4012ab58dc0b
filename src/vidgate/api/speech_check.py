"""Speech fitting at submit, in a small pool of processes beside the API (docs/audio.md says why).

eSpeak NG is not thread-safe, so a process runs one utterance at a time under a lock; on the API's
threads that lock serialised every submit with audio. A pool of `VIDGATE_SPEECH_CHECK_PROCESSES`
processes checks that many submits at once, keeps numpy, scipy and the GPL library out of the API
process, and contains eSpeak's faults: it can end its process (exit 1 on corrupt data), which here
costs one pool, replaced for the next request, and answers this one with a 500, not the API's death.

The processes are started on first use (spawned, not forked: the API process has threads) and kept;
one pool per API process, shared by its apps.
"""

from __future__ import annotations

import logging
import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from typing import Any

from vidgate.errors import CreateTaskFailed, InvalidRequestBody

log = logging.getLogger("vidgate.api")


@dataclass(frozen=True)
class SpeechQuestion:
    """What the check needs of a request and the settings: plain values, sent to a pool process."""

    prompt: str
    duration_s: float
    keyframes: int
    voice_id: str | None
    default_voice: str
    strict_voices: bool
    max_speech_speed: float
    speech: bool


@dataclass(frozen=True)
class SpeechAnswer:
    """None of the fields: the speech fits. `refusal`: the 400's message and metadata. `fault`: eSpeak
    could not run (an installation fault). Plain values, because the media code's exceptions do not
    survive pickling (their arguments are not their messages)."""

    refusal: tuple[str, dict[str, Any]] | None = None
    fault: str | None = None


def answer(question: SpeechQuestion) -> SpeechAnswer:
    """Runs in a pool process (or anywhere): the media code's verdict in the API's words."""
    # Imported here: the API process itself never imports numpy, scipy or eSpeak for this.
    from vidgate.media.audio.mix import SpeechDoesNotFit
    from vidgate.media.audio.soundtrack import SoundOptions, check_speech
    from vidgate.media.audio.speech import SpeechDisabled, SpeechEngineError
    from vidgate.media.audio.voices import UnknownVoice

    q = question
    options = SoundOptions(q.default_voice, q.strict_voices, q.max_speech_speed, q.speech)
    try:
        check_speech(q.prompt, q.duration_s, q.keyframes, q.voice_id, options)
    except SpeechDisabled as exc:
        return SpeechAnswer(refusal=(f"Field 'prompt': {exc}.", {"field": "prompt", "speech": "off"}))
    except UnknownVoice as exc:
        return SpeechAnswer(
            refusal=(
                f"Field 'voice_id': {exc.voice_id!r} is not a voice of this server; "
                "GET /v3/voices lists the catalogue.",
                {"field": "voice_id", "voices": "/v3/voices"},
            )
        )
    except SpeechDoesNotFit as exc:
        return SpeechAnswer(
            refusal=(
                f"Field 'prompt': {exc}.",
                {
                    "field": "prompt",
                    "speech_seconds": round(exc.needed_s, 2),
                    "available_seconds": round(exc.available_s, 2),
                    "max_speech_speed": exc.max_speed,
                },
            )
        )
    except SpeechEngineError as exc:
        return SpeechAnswer(fault=str(exc))
    return SpeechAnswer()


@dataclass
class SpeechCheckPool:
    processes: int
    # What each pool process runs: `answer`; tests give one that crashes as eSpeak can.
    run: Callable[[SpeechQuestion], SpeechAnswer] = answer
    _pool: ProcessPoolExecutor | None = field(default=None, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def check(self, question: SpeechQuestion) -> None:
        """Raise `InvalidRequestBody` for speech that would fail the task, `CreateTaskFailed` when
        the check itself could not run. Blocks the calling thread only, while a process works."""
        pool = self._running()
        try:
            verdict = pool.submit(self.run, question).result()
        except BrokenProcessPool:
            self._replace(pool)
            log.error("the speech check's process died (eSpeak NG ended it); its pool is replaced")
            raise CreateTaskFailed(
                "The speech check stopped unexpectedly (eSpeak NG ended its process); "
                "the server log has the details.",
                {"field": "prompt"},
            ) from None
        if verdict.fault is not None:
            log.error("speech check: %s", verdict.fault)
            raise CreateTaskFailed(f"Speech could not be checked: {verdict.fault}.", {"field": "prompt"})
        if verdict.refusal is not None:
            raise InvalidRequestBody(*verdict.refusal)

    def _running(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(
                    self.processes, mp_context=multiprocessing.get_context("spawn")
                )
            return self._pool

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        with self._lock:
            if self._pool is broken:  # several requests may see the same broken pool
                self._pool = None
        broken.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


_SHARED: dict[int, SpeechCheckPool] = {}
_SHARED_LOCK = threading.Lock()


def shared_pool(processes: int) -> SpeechCheckPool:
    """The process's pool of that size: every app in one process (tests build many) shares it."""
    with _SHARED_LOCK:
        return _SHARED.setdefault(processes, SpeechCheckPool(processes))
