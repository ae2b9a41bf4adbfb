"""POST /auth/login: an app-password session on the account's PDS, stored sealed; the
artist is upserted and their records indexed (a bounded amount; a background job the rest)."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body

from albums_core import bootstrap
from albums_core.config import settings
from albums_core.http import cookies
from albums_core.http.request_models import LoginBody
from albums_core.http.response_models import LoginResponse, responses
from albums_core.http.web import json_response, lambda_entry, make_app
from albums_core.observability import logger

app = make_app()


@app.post(
    "/auth/login",
    summary="Log in with an app password",
    description="Sets an HttpOnly `session_id` cookie; the session id also works as a bearer token.",
    operation_id="login",
    tags=["sessions"],
    responses=responses(LoginResponse, 401, 409, 415, 422, 502),
)
def login(body: Annotated[LoginBody, Body()]) -> Response[Any]:
    session, artist = bootstrap.auth().login(body.identifier, body.password)
    try:
        # A bounded amount now; the rest in the background, so the login answers at once.
        bootstrap.indexing().index_at_login(artist)
    except Exception:  # noqa: BLE001 - the login stands; POST /artists/me/sync retries the indexing
        logger.warning("indexing at login failed", exc_info=True)
    cookie = cookies.session_cookie(session.session_id, settings().session_ttl_seconds)
    return json_response(
        200, {"session_id": session.session_id, "did": session.did, "handle": session.handle}, cookies=[cookie]
    )


lambda_handler = lambda_entry(app, sets_session=True)
