"""GET /auth/pds-options: the PDSs the sign-in page offers to start at."""

from typing import Any

from albums_core.config import pds_options_settings
from albums_core.http.response_models import PdsOptionsResponse, responses
from albums_core.http.web import lambda_entry, make_app
from albums_core.services import oauth_login

pds_options_settings()  # checked at init: AUTH_PDS_OPTIONS that is not a list of options fails the cold start
app = make_app()


@app.get(
    "/auth/pds-options",
    summary="PDS choices for OAuth sign-in",
    description="A configured list; `enabled` is false when it is empty.",
    operation_id="pds_options",
    tags=["sessions"],
    responses=responses(PdsOptionsResponse),
)
def pds_options() -> dict[str, Any]:
    return oauth_login.pds_options()


lambda_handler = lambda_entry(app)
