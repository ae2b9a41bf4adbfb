"""DELETE /auth/developer-tokens/{prefix}: revoke one of the account's developer tokens."""

from typing import Any

from albums_core import bootstrap
from albums_core.http.response_models import SESSION, DeveloperTokenRevoked, responses
from albums_core.http.web import lambda_entry, make_app, path_param

app = make_app()


@app.delete(
    "/auth/developer-tokens/<prefix>",
    summary="Revoke a developer token",
    description="404 when the account has no token with this prefix.",
    operation_id="revoke_developer_token",
    tags=["sessions"],
    security=SESSION,
    responses=responses(DeveloperTokenRevoked, 401, 404, 409),
)
def revoke_developer_token(prefix: str) -> dict[str, Any]:
    bootstrap.developer_tokens().revoke(app.context["caller"].did, path_param(app, "prefix"))
    return {"revoked": True}


lambda_handler = lambda_entry(app, guard=bootstrap.session_guard)
