"""GET /oauth-client-metadata.json: the OAuth client's metadata document (its client_id)."""

from typing import Any

from albums_core import bootstrap
from albums_core.http.response_models import JsonDocument, responses
from albums_core.http.web import lambda_entry, make_app, request_base

app = make_app()


@app.get(
    "/oauth-client-metadata.json",
    summary="OAuth client metadata",
    operation_id="oauth_client_metadata",
    tags=["oauth"],
    responses=responses(JsonDocument),
)
def client_metadata() -> dict[str, Any]:
    return bootstrap.oauth_login().client_metadata(request_base(app))


lambda_handler = lambda_entry(app)
