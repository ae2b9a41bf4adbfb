"""GET /auth/developer-tokens: the account's developer tokens, without their text."""

from typing import Any

from albums_core import bootstrap
from albums_core.http.response_models import SESSION, DeveloperTokenList, responses
from albums_core.http.web import lambda_entry, make_app

app = make_app()


@app.get(
    "/auth/developer-tokens",
    summary="List developer tokens",
    operation_id="list_developer_tokens",
    tags=["sessions"],
    security=SESSION,
    responses=responses(DeveloperTokenList, 401),
)
def list_developer_tokens() -> dict[str, Any]:
    return {"tokens": bootstrap.developer_tokens().list(app.context["caller"].did)}


lambda_handler = lambda_entry(app, guard=bootstrap.session_guard)
