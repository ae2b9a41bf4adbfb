"""GET /auth/me: who the session belongs to."""

from typing import Any

from albums_core import bootstrap
from albums_core.http.response_models import SESSION, MeResponse, responses
from albums_core.http.web import lambda_entry, make_app

app = make_app()


@app.get(
    "/auth/me",
    summary="The session's account",
    operation_id="me",
    tags=["sessions"],
    security=SESSION,
    responses=responses(MeResponse, 401),
)
def me() -> dict[str, Any]:
    return bootstrap.auth().me(app.context["caller"])


lambda_handler = lambda_entry(app, guard=bootstrap.session_guard)
