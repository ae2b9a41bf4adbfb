"""Every key of the catalogue table is built here, and only here.

See ACCESS_PATTERNS.md beside this file for the layout and the calls each endpoint makes.
"""

from __future__ import annotations

LISTED = "LISTED"
PROFILE = "PROFILE"
ALBUM = "ALBUM"
# Title part of a sort key: long enough to order by, short enough for the 1 KB key limit.
_TITLE_KEY_CHARS = 200


def artist(did: str) -> dict[str, str]:
    return {"pk": f"ARTIST#{did}", "sk": PROFILE}


def handle_profile(handle: str) -> dict[str, str]:
    return {"pk": f"HANDLE#{handle}", "sk": PROFILE}


def slug_claim(did: str, slug: str) -> dict[str, str]:
    return {"pk": f"ARTIST#{did}", "sk": f"SLUG#{slug}"}


def slug_pointer(handle: str, slug: str) -> dict[str, str]:
    return {"pk": f"HANDLE#{handle}", "sk": f"SLUG#{slug}"}


def album_partition(album_id: str) -> str:
    return f"ALBUM#{album_id}"


def album(album_id: str) -> dict[str, str]:
    return {"pk": album_partition(album_id), "sk": ALBUM}


def track_sort(track_id: int) -> str:
    return f"TRACK#{track_id:012d}"


def album_track(album_id: str, track_id: int) -> dict[str, str]:
    return {"pk": album_partition(album_id), "sk": track_sort(track_id)}


def standalone_track(did: str, track_id: int) -> dict[str, str]:
    return {"pk": f"ARTIST#{did}", "sk": track_sort(track_id)}


def track_claim(did: str, record_uri: str) -> dict[str, str]:
    """Which album a track record belongs to (or is being attached to): one item per record,
    keyed by its URI because the track item itself moves between partitions."""
    return {"pk": f"ARTIST#{did}", "sk": f"CLAIM#{record_uri}"}


def like(user_did: str, track_id: int) -> dict[str, str]:
    return {"pk": f"USER#{user_did}", "sk": f"LIKE#{track_id:012d}"}


def track_id_counter() -> dict[str, str]:
    return {"pk": "COUNTER", "sk": "TRACK_ID"}


def title_sort(title: str, album_id: str) -> str:
    # \x01 sorts below every printable character, so "abc" comes before "abc d".
    return f"{title.lower()[:_TITLE_KEY_CHARS]}\x01{album_id}"


def album_index_attributes(did: str, title: str, album_id: str, listed: bool) -> dict[str, str | None]:
    """GSI attributes of an album item: gsi1 only while it has tracks (a sparse index)."""
    sort = title_sort(title, album_id)
    return {
        "gsi1pk": LISTED if listed else None,
        "gsi1sk": sort if listed else None,
        "gsi2pk": f"ARTIST#{did}",
        "gsi2sk": f"ALBUM#{sort}",
        "gsi3pk": None,
        "gsi3sk": None,
    }


def track_index_attributes(did: str, track_id: int, record_uri: str | None, created_at: str) -> dict[str, str | None]:
    return {
        "gsi2pk": f"ARTIST#{did}",
        "gsi2sk": f"TRACK#{created_at}#{track_id:012d}",
        "gsi3pk": f"TRACK#{track_id}",
        "gsi3sk": record_uri or "-",
    }


def image_key(image_id: str | None) -> str | None:
    return f"IMAGE#{image_id}" if image_id else None


ALBUM_FIELDS_INDEX = ("gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "gsi3pk", "gsi3sk", "image_key")


def firehose_lease(source: str) -> dict[str, str]:
    """The consumer's lease and checkpoint for one relay (sequence numbers are per relay)."""
    return {"pk": "FIREHOSE", "sk": f"LEASE#{source}"}


def repo_state(did: str) -> dict[str, str]:
    """What the consumer holds of a repository: the rev of the last commit applied, hidden."""
    return {"pk": f"REPO#{did}", "sk": "STATE"}


def like_record(liker_did: str, rkey: str) -> dict[str, str]:
    """One fm.plyr.like record (counted, duplicate, orphan, or deleted: a tombstone)."""
    return {"pk": f"USER#{liker_did}", "sk": f"LIKEREC#{rkey}"}
