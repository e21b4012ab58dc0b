"""Stand-ins for the speech check's work, run in its pool processes (so importable by module name)."""

from __future__ import annotations

import os

from vidgate.api.speech_check import SpeechAnswer, SpeechQuestion, answer


def answer_or_die(question: SpeechQuestion) -> SpeechAnswer:
    """Ends its process with exit status 1, as eSpeak NG does on corrupt data, when asked to say "die"."""
    if '"die"' in question.prompt:
        os._exit(1)
    return answer(question)


def refuse_naming_the_process(question: SpeechQuestion) -> SpeechAnswer:
    return SpeechAnswer(refusal=(f"checked in process {os.getpid()}", {"field": "prompt"}))


def broken_installation(question: SpeechQuestion) -> SpeechAnswer:
    return SpeechAnswer(fault="eSpeak NG's data at /nowhere lacks phontab")


def fail_unexpectedly(question: SpeechQuestion) -> SpeechAnswer:
    raise RuntimeError("a bug in the check")
