"""Cover objects in memory: the image and thumbnail of each stored cover, and upload forms."""

from __future__ import annotations

from typing import Any

from albums_core.domain.cover_images import Cover


class FakeCoverStore:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.forms: list[dict[str, Any]] = []

    def put(self, cover: Cover) -> None:
        self.objects[cover.key] = cover.original
        self.objects[cover.thumbnail_key] = cover.thumbnail

    def read(self, key: str, max_bytes: int) -> bytes | None:
        # As S3 reads: at most one byte more than asked, so the caller sees it is too large.
        data = self.objects.get(key)
        return data[: max_bytes + 1] if data is not None else None

    def delete(self, key: str) -> None:
        self.objects.pop(key, None)

    def delete_image(self, image_id: str) -> None:
        for key in [k for k in self.objects if k.startswith(f"images/{image_id}")]:
            del self.objects[key]

    def upload_form(self, key: str, max_bytes: int, expires_in: int) -> dict[str, Any]:
        self.forms.append({"key": key, "max_bytes": max_bytes, "expires_in": expires_in})
        return {"url": "https://covers.example/upload", "fields": {"key": key}}
