"""What the API's routers share: the services, the authenticated key, common parameters and the
error codes operations declare."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query, Request

from vidgate.api.auth import require_key
from vidgate.api.service import Services
from vidgate.tasks.model import ApiKey

# The envelope's codes each kind of operation can answer with (documented per operation).
# A request with a key: bad parameters, no key, a bad key, a fault, the database out of reach.
KEYED = (400, 401, 403, 500, 503)
ON_A_TASK = (*KEYED, 404)
Key = Annotated[ApiKey, Depends(require_key)]
# min_length: `?task_id=` is answered as a missing task_id is, not as an unknown one.
TaskIdQuery = Annotated[str, Query(min_length=1, max_length=64)]
# HEAD beside GET where tools ask it: `curl -I` and download managers on a video link, load
# balancers on health checks. The route answers HEAD as GET; the server sends the headers only.
GET_AND_HEAD = ["GET", "HEAD"]


def services(request: Request) -> Services:
    return request.app.state.services
