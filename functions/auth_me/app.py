"""GET /auth/me: who the session belongs to."""

from typing import Any

from albums_core.http.response_models import SESSION, MeResponse, responses
from albums_core.http.web import lambda_entry, make_app
from albums_core.services import auth

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
    return auth.me(app.context["caller"])


lambda_handler = lambda_entry(app, guard=auth.session_guard)
