"""GET /auth/callback: the authorization server sends the browser back here; the code is
exchanged, our session created, and the browser sent on (303) to the frontend's portal with a
one-time exchange token, or to its home page with `auth_error`."""

from typing import Any

from aws_lambda_powertools.event_handler import Response

from albums_core import bootstrap
from albums_core.http import cookies
from albums_core.http.response_models import redirect_responses
from albums_core.http.web import lambda_entry, make_app, redirect, request_base

app = make_app()


@app.get(
    "/auth/callback",
    summary="OAuth redirect URI",
    description="`code`, `state`, `iss` (or `error`), and the `oauth_state` cookie the start set (the "
    "browser that started must be the one that comes back). Redirects to `<frontend>/portal?exchange_token=...` "
    "or `<frontend>/?auth_error=access_denied|expired|scope_mismatch|failed` (refused by the user; a state "
    "expired, used, unknown or not this browser's; a smaller granted scope; anything else).",
    operation_id="auth_callback",
    tags=["sessions"],
    responses=redirect_responses(303, "to the frontend"),
)
def callback() -> Response[Any]:
    params = {k: v for k, v in (app.current_event.query_string_parameters or {}).items() if isinstance(v, str)}
    event = app.current_event
    browser_state = cookies.cookie_value(event.get("cookies"), event.headers, cookies.STATE_COOKIE_NAME)
    location = bootstrap.oauth_login().callback(params, request_base(app), browser_state)
    return redirect(303, location, cookies=[cookies.cleared_state_cookie()])


lambda_handler = lambda_entry(app)
