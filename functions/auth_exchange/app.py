"""POST /auth/exchange: a one-time exchange token (60 s) for the session: a browser gets the
HttpOnly cookie (and `session_id: null`), another client the session id."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body

from albums_core import bootstrap
from albums_core.config import settings
from albums_core.http import cookies
from albums_core.http.request_models import ExchangeBody
from albums_core.http.response_models import ExchangeResponse, responses
from albums_core.http.web import json_response, lambda_entry, make_app
from albums_core.services import oauth_login

app = make_app()


@app.post(
    "/auth/exchange",
    summary="Exchange the sign-in token for a session",
    description="A browser request (Origin or Sec-Fetch-* headers) gets the HttpOnly `session_id` cookie and "
    "`session_id: null`; other clients get the session id. A used or expired token is 401.",
    operation_id="auth_exchange",
    tags=["sessions"],
    responses=responses(ExchangeResponse, 401, 415, 422),
)
def exchange(body: Annotated[ExchangeBody, Body()]) -> Response[Any]:
    session = bootstrap.oauth_login().exchange(body.exchange_token)
    if oauth_login.is_browser(app.current_event.headers):
        cookie = cookies.session_cookie(session.session_id, settings().session_ttl_seconds)
        return json_response(200, {"session_id": None}, cookies=[cookie])
    return json_response(200, {"session_id": session.session_id})


lambda_handler = lambda_entry(app, sets_session=True)
