"""POST /auth/logout: ends the session here and on the PDS."""

from typing import Any

from aws_lambda_powertools.event_handler import Response

from albums_core import bootstrap
from albums_core.http import cookies
from albums_core.http.response_models import SESSION, LogoutResponse, responses
from albums_core.http.web import json_response, lambda_entry, make_app

app = make_app()


@app.post(
    "/auth/logout",
    summary="Log out",
    operation_id="logout",
    tags=["sessions"],
    security=SESSION,
    responses=responses(LogoutResponse, 401),
)
def logout() -> Response[Any]:
    bootstrap.auth().logout(app.context["caller"])
    cleared = cookies.cleared_cookie()
    return json_response(200, {"logged_out": True}, cookies=[cleared])


lambda_handler = lambda_entry(app, guard=bootstrap.session_guard)
