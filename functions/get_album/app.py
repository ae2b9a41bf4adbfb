"""GET /albums/{handle}/{slug}: an album page with its tracks in list-record order."""

from typing import Any

from aws_lambda_powertools.event_handler import Response, content_types
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from albums_core.http.response_models import AlbumResponse, responses
from albums_core.http.web import make_app, optional_viewer, path_param, resolve
from albums_core.observability import logger, metrics, tracer
from albums_core.services.album_pages import AlbumPages

app = make_app()
pages = AlbumPages()


@app.get(
    "/albums/<ref>/<slug>",
    summary="Get an album page",
    description="`ref` is the artist's handle, or its DID while it has no verified handle. "
    "Tracks come in the order of the album's list record. A session (optional) personalises `is_liked` and `gated`.",
    operation_id="get_album",
    tags=["albums"],
    responses=responses(AlbumResponse, 404, 422),
)
def get_album(ref: str, slug: str) -> Response[str]:
    body = pages.render(path_param(app, "ref"), path_param(app, "slug"), optional_viewer(app))
    return Response(status_code=200, content_type=content_types.APPLICATION_JSON, body=body)


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return resolve(app, event, context)
