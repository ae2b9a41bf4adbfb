"""POST /auth/developer-tokens: a new developer token for the Subsonic API, shown once."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body

from albums_core import bootstrap
from albums_core.http.request_models import DeveloperTokenBody
from albums_core.http.response_models import SESSION, DeveloperTokenCreated, responses
from albums_core.http.web import json_response, lambda_entry, make_app
from albums_core.services.developer_tokens import MAX_TOKENS

app = make_app()


@app.post(
    "/auth/developer-tokens",
    summary="Create a developer token",
    description="A credential for the Subsonic API (`/rest/*`) only, never a session. The token is in this "
    f"answer only; at most {MAX_TOKENS} per account.",
    operation_id="create_developer_token",
    tags=["sessions"],
    security=SESSION,
    responses=responses(DeveloperTokenCreated, 401, 409, 415, 422, status=201),
)
def create_developer_token(body: Annotated[DeveloperTokenBody, Body()]) -> Response[Any]:
    session = app.context["caller"]
    return json_response(201, bootstrap.developer_tokens().create(session.did, session.handle, body.name))


lambda_handler = lambda_entry(app, guard=bootstrap.session_guard)
