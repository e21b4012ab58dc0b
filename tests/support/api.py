"""The API through Starlette's test client, with a key: what most API tests drive."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi.testclient import TestClient

from vidgate.api.service import Services
from vidgate.schemas import SUBMIT_PATH


@dataclass
class Api:
    client: TestClient
    services: Services
    key: str
    headers: dict[str, str] = field(default_factory=dict)

    def submit(self, body: object, headers: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
        return self.client.post(SUBMIT_PATH, json=body, headers=headers or self.headers)

    def result(self, task_id: str):  # type: ignore[no-untyped-def]
        return self.client.get("/v3/async/task-result", params={"task_id": task_id}, headers=self.headers)
