"""PATCH /albums/{album_id}: title and/or description, as query parameters or a JSON body."""

from typing import Annotated, Any

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.openapi.params import Body, Header, Query

from albums_core import bootstrap
from albums_core.http.conditional import versioned_response
from albums_core.http.request_models import UpdateAlbumBody
from albums_core.http.response_models import IF_MATCH_DOC, SESSION, AlbumMetadata, responses, versioned_responses
from albums_core.http.web import lambda_entry, make_app, path_param
from albums_core.services.album_admin import UNSET

app = make_app()


@app.patch(
    "/albums/<ref>",
    summary="Update title and description",
    description="`ref` is the album id. A title change renames the list record and the album field of "
    "every track record.",
    operation_id="update_album",
    tags=["albums"],
    security=SESSION,
    responses=versioned_responses(responses(AlbumMetadata, 401, 403, 404, 409, 415, 422, 502), 200),
)
def update_album(
    ref: str,
    title: Annotated[str | None, Query(description="new album title")] = None,
    description: Annotated[str | None, Query(description="new album description")] = None,
    body: Annotated[UpdateAlbumBody | None, Body()] = None,
    if_match: Annotated[str | None, Header(alias="If-Match", description=IF_MATCH_DOC)] = None,
) -> Response[Any]:
    given = body or UpdateAlbumBody()
    new_title = given.field("title", title, UNSET)
    new_description = given.field("description", description, UNSET)
    admin = bootstrap.album_admin(app.context["caller"])
    return versioned_response(admin.update(path_param(app, "ref"), new_title, new_description), admin.version)


lambda_handler = lambda_entry(app, guard=bootstrap.album_guard("you can only update your own albums"))
