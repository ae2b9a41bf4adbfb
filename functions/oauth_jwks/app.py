"""GET /.well-known/jwks.json: the public keys of the OAuth client (every configured key, so a
rotation never strands an assertion signed with the previous one)."""

from typing import Any

from albums_core import bootstrap
from albums_core.http.response_models import JsonDocument, responses
from albums_core.http.web import lambda_entry, make_app

app = make_app()


@app.get(
    "/.well-known/jwks.json",
    summary="OAuth client JWKS",
    operation_id="oauth_jwks",
    tags=["oauth"],
    responses=responses(JsonDocument),
)
def jwks() -> dict[str, Any]:
    return bootstrap.oauth_login().jwks()


lambda_handler = lambda_entry(app)
