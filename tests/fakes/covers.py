"""Cover objects in memory: the image and thumbnail of each stored cover, and upload forms."""

from __future__ import annotations

from typing import Any

from albums_core.domain.cover_images import Cover


class FakeCoverStore:
    def __init__(self) -> None:
        self.objects: dict[str, bytes] = {}
        self.forms: list[dict[str, Any]] = []

    def store(self, cover: Cover) -> None:
        self.objects[cover.key] = cover.original
        self.objects[cover.thumbnail_key] = cover.thumbnail

    def delete_image(self, image_id: str) -> None:
        for key in [k for k in self.objects if k.startswith(f"images/{image_id}")]:
            del self.objects[key]

    def upload_form(self, key: str, max_bytes: int, seconds: int) -> dict[str, Any]:
        form = {"url": "https://covers.example/upload", "fields": {"key": key}, "max_bytes": max_bytes}
        self.forms.append({"key": key, "max_bytes": max_bytes, "seconds": seconds})
        return form
