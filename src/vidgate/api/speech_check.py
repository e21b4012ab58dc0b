"""Speech fitting at submit, in a small pool of processes beside the API (docs/audio.md says why).

eSpeak NG is not thread-safe, so a process runs one utterance at a time under a lock; on the API's
threads that lock serialised every submit with audio. A pool of `VIDGATE_SPEECH_CHECK_PROCESSES`
processes checks that many submits at once, keeps numpy, scipy and the GPL library out of the API
process, and contains eSpeak's faults: it can end its process (exit 1 on corrupt data), which here
costs that process, replaced for the next request, and answers this one with a 500, not the API's
death. The processes start together on first use and are kept; one pool per API process, shared by
its apps.
"""

from __future__ import annotations

import atexit
import logging
import multiprocessing
import queue
import signal
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from vidgate.errors import CreateTaskFailed, InvalidRequestBody

log = logging.getLogger("vidgate.api")
STOP_WAIT_S = 5.0


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


def serve(connection: Connection, run: Callable[[SpeechQuestion], SpeechAnswer]) -> None:
    """A check process: answer questions until the API's end of the pipe closes."""
    # Ctrl-C in a terminal reaches the whole process group: this process ends when the API does
    # (its pipe closes), not with a traceback of its own.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    import vidgate.media.audio.soundtrack  # noqa: F401  # the second of imports, before any question

    while True:
        try:
            question = connection.recv()
        except EOFError:  # the API process closed the pipe, or ended
            return
        try:
            verdict = run(question)
        except Exception as exc:  # a fault of the check, reported as such; the process goes on
            verdict = SpeechAnswer(fault=f"{type(exc).__name__}: {exc}")
        connection.send(verdict)


class _Checker:
    """One spawned process (not forked: the API process has threads) answering over a pipe. The
    asking thread talks to it directly: no feeder or result threads to wake on a busy machine."""

    def __init__(self, run: Callable[[SpeechQuestion], SpeechAnswer]) -> None:
        spawn = multiprocessing.get_context("spawn")
        self.connection, theirs = spawn.Pipe()
        self.process = spawn.Process(target=serve, args=(theirs, run), name="vidgate-speech-check")
        self.process.start()
        theirs.close()

    def ask(self, question: SpeechQuestion) -> SpeechAnswer:
        """Raises EOFError or OSError when the process has died."""
        self.connection.send(question)
        answer: SpeechAnswer = self.connection.recv()
        return answer

    def stop(self) -> None:
        self.connection.close()  # it returns on EOF
        self.process.join(STOP_WAIT_S)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()


@dataclass
class SpeechCheckPool:
    processes: int
    # What each process runs: `answer`; tests give one that crashes as eSpeak can.
    run: Callable[[SpeechQuestion], SpeechAnswer] = answer
    _idle: queue.SimpleQueue[_Checker] | None = field(default=None, init=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False)

    def check(self, question: SpeechQuestion) -> None:
        """Raise `InvalidRequestBody` for speech that would fail the task, `CreateTaskFailed` when
        the check itself could not run. Blocks the calling thread only: first until a process is
        free (at most `processes` checks run at once), then while it works."""
        idle = self._started()
        checker = idle.get()
        try:
            verdict = checker.ask(question)
        except BaseException as exc:  # its pipe is in an unknown state: replace it, whatever it was
            checker.stop()
            idle.put(_Checker(self.run))  # the replacement starts now, for the next request
            if not isinstance(exc, (EOFError, OSError)):
                raise
            log.error("a speech check process died (eSpeak NG ended it?); a new one starts")
            raise CreateTaskFailed(
                "The speech check stopped unexpectedly (eSpeak NG ended its process); "
                "the server log has the details.",
                {"field": "prompt"},
            ) from None
        idle.put(checker)
        if verdict.fault is not None:
            log.error("speech check: %s", verdict.fault)
            raise CreateTaskFailed(f"Speech could not be checked: {verdict.fault}.", {"field": "prompt"})
        if verdict.refusal is not None:
            raise InvalidRequestBody(*verdict.refusal)

    def _started(self) -> queue.SimpleQueue[_Checker]:
        """All processes start together on first use, so a burst of checks waits on no start
        (a second or more) in the middle of a run."""
        with self._lock:
            if self._idle is None:
                self._idle = queue.SimpleQueue()
                for _ in range(self.processes):
                    self._idle.put(_Checker(self.run))
            return self._idle

    def close(self) -> None:
        """Stop the idle processes (a busy one stops when its pipe closes with this process)."""
        with self._lock:
            idle, self._idle = self._idle, None
        while idle is not None and not idle.empty():
            idle.get().stop()


_SHARED: dict[int, SpeechCheckPool] = {}
_SHARED_LOCK = threading.Lock()


def shared_pool(processes: int) -> SpeechCheckPool:
    """The process's pool of that size: every app in one process (tests build many) shares it."""
    with _SHARED_LOCK:
        if not _SHARED:
            # Before multiprocessing's own exit handler (atexit runs the last registered first),
            # which would otherwise wait for processes still waiting on their pipes.
            atexit.register(_close_shared)
        return _SHARED.setdefault(processes, SpeechCheckPool(processes))


def _close_shared() -> None:
    for pool in _SHARED.values():
        pool.close()
