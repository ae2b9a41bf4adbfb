"""GET /auth/start: a pushed authorization request at the account's authorization server,
then a redirect (307) to its authorize page."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Query

from albums_core import bootstrap
from albums_core.http import cookies
from albums_core.http.response_models import redirect_responses
from albums_core.http.web import lambda_entry, make_app, redirect, request_base
from albums_core.services import oauth_login

app = make_app()


@app.get(
    "/auth/start",
    summary="Start OAuth sign-in",
    description="Exactly one of `handle` (a handle or DID) and `pds_url`; redirects to the authorization server "
    "and sets the HttpOnly `oauth_state` cookie (10 minutes) that the callback must bring back.",
    operation_id="auth_start",
    tags=["sessions"],
    responses=redirect_responses(307, "to the authorization server's authorize page", 400, 422, 502),
)
def start(
    handle: Annotated[str | None, Query(max_length=2048)] = None,
    pds_url: Annotated[str | None, Query(max_length=2048)] = None,
) -> Response[Any]:
    started = bootstrap.oauth_login().start(handle, pds_url, request_base(app))
    return redirect(307, started.location, cookies=[cookies.state_cookie(started.state, oauth_login.STATE_TTL_SECONDS)])


lambda_handler = lambda_entry(app)
