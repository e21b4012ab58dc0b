"""CORS for browser front-ends: off by default, on for the origins VIDGATE_CORS_ORIGINS lists."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from vidgate.app import create_app
from vidgate.settings import Settings

APP_ORIGIN = "https://app.example.com"
SUBMIT = "/v3/async/vidu-q2-pro-img2video"


def preflight(
    client: TestClient, origin: str, method: str = "POST", headers: str = "authorization,content-type"
):  # type: ignore[no-untyped-def]
    return client.options(
        SUBMIT,
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": method,
            "Access-Control-Request-Headers": headers,
        },
    )


@pytest.fixture
def cors_client(settings: Settings) -> Iterator[TestClient]:
    allowed = settings.model_copy(update={"cors_origins": f"{APP_ORIGIN},http://localhost:3000"})
    with TestClient(create_app(allowed)) as client:
        yield client


def test_a_listed_origin_gets_its_preflight_answered(cors_client: TestClient) -> None:
    response = preflight(cors_client, APP_ORIGIN, headers="authorization,content-type,idempotency-key")
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == APP_ORIGIN
    assert {"GET", "POST"} <= set(response.headers["access-control-allow-methods"].split(", "))
    allowed_headers = response.headers["access-control-allow-headers"].lower()
    assert {"authorization", "content-type", "idempotency-key"} <= set(allowed_headers.split(", "))


def test_a_listed_origin_can_read_the_headers_clients_need(cors_client: TestClient) -> None:
    response = cors_client.get(
        "/v3/async/task-result", params={"task_id": "x"}, headers={"Origin": APP_ORIGIN}
    )
    assert response.status_code == 401, "no key: the contract's error, readable by the page"
    assert response.headers["access-control-allow-origin"] == APP_ORIGIN
    assert "Retry-After" in response.headers["access-control-expose-headers"].split(", ")


@pytest.mark.parametrize(
    ("origin", "method", "headers"),
    [
        ("https://evil.example.com", "POST", "authorization"),
        (APP_ORIGIN, "DELETE", "authorization"),
        (APP_ORIGIN, "POST", "x-unknown"),
    ],
)
def test_a_refused_preflight_is_the_contracts_envelope(
    cors_client: TestClient, origin: str, method: str, headers: str
) -> None:
    response = preflight(cors_client, origin, method, headers)
    assert response.status_code == 400 and response.json()["reason"] == "CORS_REQUEST_REFUSED"
    assert response.json()["metadata"] == {"origin": origin}
    if origin != APP_ORIGIN:
        assert "access-control-allow-origin" not in response.headers


def test_other_origins_get_no_cors_headers(cors_client: TestClient) -> None:
    response = cors_client.get("/healthz", headers={"Origin": "https://evil.example.com"})
    assert response.status_code == 200 and "access-control-allow-origin" not in response.headers


def test_a_star_allows_any_origin(settings: Settings) -> None:
    with TestClient(create_app(settings.model_copy(update={"cors_origins": "*"}))) as client:
        response = preflight(client, "https://anywhere.example")
        assert response.status_code == 200 and response.headers["access-control-allow-origin"] == "*"


def test_by_default_no_origin_is_allowed(settings: Settings) -> None:
    assert settings.cors_origins == ""
    with TestClient(create_app(settings)) as client:
        response = preflight(client, APP_ORIGIN)
        assert response.status_code == 405 and response.json()["reason"] == "METHOD_NOT_ALLOWED"
        assert not any(name.startswith("access-control-") for name in response.headers)
        simple = client.get("/healthz", headers={"Origin": APP_ORIGIN})
        assert "access-control-allow-origin" not in simple.headers


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("https://app.example.com/", "is not an origin"),
        ("app.example.com", "is not an origin"),
        ("https://a.example.com,*", "give it alone"),
    ],
)
def test_a_bad_origin_setting_is_refused(value: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        Settings(cors_origins=value, _env_file=None)  # type: ignore[call-arg]


def test_origins_are_read_as_a_comma_separated_list() -> None:
    settings = Settings(cors_origins=" https://a.example.com , http://[::1]:8080,", _env_file=None)  # type: ignore[call-arg]
    assert settings.cors_origin_list() == ["https://a.example.com", "http://[::1]:8080"]
