"""The speech check at submit runs in a pool of processes beside the API, which survives their crashes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from support.api import Api
from support.media import data_uri, make_image
from support.speech import answer_or_die, broken_installation, fail_unexpectedly, refuse_naming_the_process
from vidgate.api.speech_check import SpeechCheckPool, SpeechQuestion, answer

TOO_LONG = 'She says "' + "this sentence is much too long for one second of video " * 3 + '"'


def body(prompt: str) -> dict[str, object]:
    return {"images": [data_uri(make_image())], "prompt": prompt, "duration": 1, "audio": True}


@pytest.fixture
def pool_of(api: Api, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    pools: list[SpeechCheckPool] = []

    def use(run) -> SpeechCheckPool:  # type: ignore[no-untyped-def]
        pool = SpeechCheckPool(1, run=run)
        pools.append(pool)
        monkeypatch.setattr(api.services, "speech_checks", pool)
        return pool

    yield use
    for pool in pools:
        pool.close()


@pytest.mark.slow  # starts check processes (numpy, scipy: a second or two)
def test_the_check_runs_in_another_process(api: Api, pool_of) -> None:  # type: ignore[no-untyped-def]
    pool_of(refuse_naming_the_process)
    response = api.submit(body('He says "hello"'))
    assert response.status_code == 400 and response.json()["reason"] == "INVALID_REQUEST_BODY"
    checker = int(response.json()["message"].removeprefix("checked in process "))
    assert checker != os.getpid()


@pytest.mark.slow  # starts check processes (numpy, scipy: a second or two)
def test_a_crashed_check_is_a_500_and_the_next_submit_is_checked_afresh(api: Api, pool_of) -> None:  # type: ignore[no-untyped-def]
    pool_of(answer_or_die)
    crashed = api.submit(body('She says "die"'))
    assert crashed.status_code == 500
    error = crashed.json()
    assert error["reason"] == "CREATE_TASK_FAILED" and "eSpeak NG ended its process" in error["message"]
    assert "Traceback" not in crashed.text
    refused = api.submit(body(TOO_LONG))
    assert refused.status_code == 400 and refused.json()["metadata"]["field"] == "prompt", "a fresh pool"
    assert api.submit(body('She says "hi"')).status_code == 200


@pytest.mark.slow  # starts check processes (numpy, scipy: a second or two)
def test_an_installation_fault_is_a_500_naming_it(api: Api, pool_of) -> None:  # type: ignore[no-untyped-def]
    pool_of(broken_installation)
    response = api.submit(body('She says "hi"'))
    assert response.status_code == 500 and response.json()["reason"] == "CREATE_TASK_FAILED"
    assert "lacks phontab" in response.json()["message"]


@pytest.mark.slow  # starts check processes (numpy, scipy: a second or two)
def test_an_error_inside_the_check_is_a_500_and_its_process_goes_on(api: Api, pool_of) -> None:  # type: ignore[no-untyped-def]
    pool_of(fail_unexpectedly)
    for _ in range(2):  # the same process answers again
        response = api.submit(body('She says "hi"'))
        assert response.status_code == 500 and response.json()["reason"] == "CREATE_TASK_FAILED"
        assert "RuntimeError: a bug in the check" in response.json()["message"]


def test_missing_espeak_data_is_a_fault_not_a_refusal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import espeakng_loader

    monkeypatch.setattr(espeakng_loader, "get_data_path", lambda: str(tmp_path))
    question = SpeechQuestion('She says "hi"', 1.0, 1, None, "English_Warm_Woman", False, 1.5, True)
    verdict = answer(question)
    assert verdict.refusal is None and verdict.fault is not None and "lacks phontab" in verdict.fault
