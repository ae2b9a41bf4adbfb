"""GET /auth/me's body, as the plyr.fm web app reads it (frontend/src/lib/types.ts `User`:
`did`, `handle`, `linked_accounts`, `enabled_flags`; ProfileMenu.svelte takes the avatar from
the linked account whose DID is the session's)."""

from typing import Any

from albums_core.domain.models import Artist
from albums_core.domain.sessions import Session, Tokens
from albums_core.services.auth import Auth

DID = "did:plc:" + "m" * 24
SESSION = Session("sid", DID, "old.handle.test", "https://pds.example", Tokens("a", "r"), 0)


class Artists:
    def __init__(self, *artists: Artist) -> None:
        self.artists = {a.did: a for a in artists}

    def get_artist(self, did: str) -> Artist | None:
        return self.artists.get(did)


def me(session: Session, artists: Artists) -> dict[str, Any]:
    unused: Any = None  # `me` reads only the artists
    return Auth(artists, unused, unused, unused, unused, unused).me(session)  # type: ignore[arg-type]


def test_me_carries_the_web_apps_user_fields_for_an_artist() -> None:
    artist = Artist(DID, "me.example.com", "Me", "https://cdn.example.com/me.png")
    body = me(SESSION, Artists(artist))
    assert body["did"] == DID and body["handle"] == "me.example.com" and body["is_artist"] is True
    assert body["linked_accounts"] == [
        {"did": DID, "handle": "me.example.com", "avatar_url": "https://cdn.example.com/me.png"}
    ]
    assert body["enabled_flags"] == []


def test_me_without_an_artist_profile_links_the_session_account() -> None:
    body = me(SESSION, Artists())
    assert body["is_artist"] is False and body["avatar_url"] is None
    assert body["linked_accounts"] == [{"did": DID, "handle": "old.handle.test", "avatar_url": None}]
    assert body["enabled_flags"] == []
