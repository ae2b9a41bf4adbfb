"""Request bodies of the write endpoints. Strict types (a number is not a title), unknown
fields ignored and never stored; lengths and lexicon rules are checked by text_rules so the
messages say what is wrong."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, field_validator

from albums_core.domain.errors import Unprocessable


def _no_surrogates(value: Any) -> Any:
    texts = value if isinstance(value, list) else [value]
    for text in texts:
        if isinstance(text, str) and any("\ud800" <= c <= "\udfff" for c in text):
            raise ValueError("text must be valid Unicode (a lone surrogate is not)")
    return value


class _Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="ignore")

    @field_validator("*")
    @classmethod
    def _valid_unicode(cls, value: Any) -> Any:
        return _no_surrogates(value)


class LoginBody(_Body):
    identifier: StrictStr = Field(min_length=1, max_length=2048, description="handle or DID")
    password: StrictStr = Field(min_length=1, max_length=1024, description="an app password")


class CreateAlbumBody(_Body):
    title: StrictStr = Field(description="album title (at most 64 characters)")
    description: StrictStr | None = Field(default=None, description="at most 5000 characters")


class UpdateAlbumBody(_Body):
    title: StrictStr | None = None
    description: StrictStr | None = None

    def field(self, name: str, query_value: str | None, unset: Any) -> Any:
        """`name` as given either as a query parameter or in this body: given both ways is
        refused (422) rather than one silently winning."""
        in_body = name in self.model_fields_set
        if query_value is not None and in_body:
            raise Unprocessable(f"{name} given both as a query parameter and in the body: give it once")
        if query_value is not None:
            return query_value
        return getattr(self, name) if in_body else unset


class AttachTracksBody(_Body):
    track_uris: list[StrictStr] = Field(max_length=500, description="AT-URIs of your fm.plyr.track records")


class ReorderTracksBody(_Body):
    track_ids: list[StrictInt] = Field(max_length=500, description="every track id of the album, in the new order")


class StrongRefItem(_Body):
    uri: StrictStr = Field(max_length=8192, description="AT-URI of one of your fm.plyr.track records")
    cid: StrictStr | None = Field(
        default=None, max_length=256, description="ignored: the list pins the record's current CID"
    )


class ReorderListBody(_Body):
    items: list[StrongRefItem] = Field(
        max_length=500, description="strong refs of every track of the album, in the new order"
    )


class ExchangeBody(_Body):
    exchange_token: StrictStr = Field(min_length=1, max_length=512, description="the token the sign-in callback gave")


class DeveloperTokenBody(_Body):
    name: StrictStr = Field(min_length=1, max_length=100, description="what the token is for (an app's name)")
