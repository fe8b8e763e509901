"""The scheduler's HTTP side: the REST API (``/api/v1``, ``/openapi.json``) and the dashboard (``/``).

    router.py      routing, decoding and validation, problem documents, bearer auth, CORS, metrics
    openapi.py     the OpenAPI document, generated from the route table and the msgspec types
    schemas.py     the API's request and response types
    reads.py       what is read: PostgreSQL (read-only) and JetStream state
    control.py     what the mutations publish (the CLI's events and jobs; never a database write)
    api.py         the route table and its handlers
    html.py        HTML built with every untrusted value escaped
    dashboard.py   the pages
    leaderboards.py  contributor leaderboards (shared.leaderboard) over HTTP
"""

from services.scheduler.web.api import ControlPlane
from services.scheduler.web.reads import poll_queue_metrics

__all__ = ["ControlPlane", "poll_queue_metrics"]
