"""Every key of the catalogue table (and of the cache table's entries, and of the sessions
table's OAuth items) is built here, and only here: key attributes, index keys and the prefixes
queries begin with.

See ACCESS_PATTERNS.md beside this file for the layout and the calls each endpoint makes.
"""

from __future__ import annotations

from typing import Any, Literal

LISTED = "LISTED"
PROFILE = "PROFILE"
ALBUM = "ALBUM"
JOB = "JOB"
_ARTIST = "ARTIST#"
_HANDLE = "HANDLE#"
_SLUG = "SLUG#"
_TRACK = "TRACK#"
_ALBUM_SORT = "ALBUM#"
# Title part of a sort key: long enough to order by, short enough for the 1 KB key limit.
_TITLE_KEY_CHARS = 200


def artist_partition(did: str) -> str:
    return f"{_ARTIST}{did}"


def handle_partition(handle: str) -> str:
    return f"{_HANDLE}{handle}"


def artist(did: str) -> dict[str, str]:
    return {"pk": artist_partition(did), "sk": PROFILE}


def handle_profile(handle: str) -> dict[str, str]:
    return {"pk": handle_partition(handle), "sk": PROFILE}


# Sort keys of the slug items under an artist (claims) or a handle (pointers) begin with this.
SLUG_PREFIX = _SLUG


def slug_claim(did: str, slug: str) -> dict[str, str]:
    return {"pk": artist_partition(did), "sk": f"{_SLUG}{slug}"}


def slug_pointer(handle: str, slug: str) -> dict[str, str]:
    return {"pk": handle_partition(handle), "sk": f"{_SLUG}{slug}"}


def slug_of(sort_key: str) -> str:
    return sort_key.removeprefix(_SLUG)


# A slug an album had before a rename (its album id): its page redirects to the album's
# current one while no other album of the artist takes the slug.
FORMER_PREFIX = "FORMER#"


def former_slug(did: str, slug: str) -> dict[str, str]:
    return {"pk": artist_partition(did), "sk": f"{FORMER_PREFIX}{slug}"}


def former_slug_of(sort_key: str) -> str:
    return sort_key.removeprefix(FORMER_PREFIX)


def album_partition(album_id: str) -> str:
    return f"ALBUM#{album_id}"


def album(album_id: str) -> dict[str, str]:
    return {"pk": album_partition(album_id), "sk": ALBUM}


def album_gone(album_id: str) -> dict[str, str]:
    """An album our API deleted (put with its removal, expiring by TTL): the commit path creates
    no album while it is there (its list's create commit may come after the deletion)."""
    return {"pk": album_partition(album_id), "sk": "GONE"}


# Sort keys of track items (in an album's partition or an artist's) begin with this.
TRACK_PREFIX = _TRACK


def track_sort(track_id: int) -> str:
    return f"{_TRACK}{track_id:012d}"


def album_track(album_id: str, track_id: int) -> dict[str, str]:
    return {"pk": album_partition(album_id), "sk": track_sort(track_id)}


def standalone_track(did: str, track_id: int) -> dict[str, str]:
    return {"pk": artist_partition(did), "sk": track_sort(track_id)}


def track_claim(did: str, record_uri: str) -> dict[str, str]:
    """Which album a track record belongs to (or is being attached to): one item per record,
    keyed by its URI because the track item itself moves between partitions."""
    return {"pk": artist_partition(did), "sk": f"CLAIM#{record_uri}"}


def track_record_guard(did: str, record_uri: str) -> dict[str, str]:
    """The one track id a track record has: taken (conditionally) in the transaction that
    creates the record's track item, so a record never gets two. Not `track_claim`, which is
    album membership. Kept while the track moves between partitions, deleted with it."""
    return {"pk": artist_partition(did), "sk": f"TRACKREC#{record_uri}"}


# Partition keys of a user's likes and like records begin with this.
USER_PREFIX = "USER#"
# Sort keys of a liker's like records begin with this.
LIKE_RECORD_PREFIX = "LIKEREC#"
_LIKE_RECORD = LIKE_RECORD_PREFIX


def like(user_did: str, track_id: int) -> dict[str, str]:
    return {"pk": f"{USER_PREFIX}{user_did}", "sk": f"LIKE#{track_id:012d}"}


def track_id_counter() -> dict[str, str]:
    return {"pk": "COUNTER", "sk": "TRACK_ID"}


def title_sort(title: str, album_id: str) -> str:
    # \x01 sorts below every printable character, so "abc" comes before "abc d".
    return f"{title.lower()[:_TITLE_KEY_CHARS]}\x01{album_id}"


def album_by_artist_sort(title_sort_key: str) -> str:
    """gsi2 sort key of an album under its artist (its albums begin with ALBUM_BY_ARTIST_PREFIX)."""
    return f"{_ALBUM_SORT}{title_sort_key}"


ALBUM_BY_ARTIST_PREFIX = _ALBUM_SORT
# gsi2 sort keys of an artist's tracks begin with this.
TRACK_BY_ARTIST_PREFIX = _TRACK


def track_lookup(track_id: int) -> str:
    """gsi3 partition key: a track found by its id wherever its item lives."""
    return f"{_TRACK}{track_id}"


def album_index_attributes(did: str, title: str, album_id: str, listed: bool) -> dict[str, str | None]:
    """GSI attributes of an album item: gsi1 only while it has tracks (a sparse index)."""
    sort = title_sort(title, album_id)
    return {
        "gsi1pk": LISTED if listed else None,
        "gsi1sk": sort if listed else None,
        "gsi2pk": artist_partition(did),
        "gsi2sk": album_by_artist_sort(sort),
        "gsi3pk": None,
        "gsi3sk": None,
    }


# The index attributes of a track item (what track_index_attributes returns).
TRACK_INDEX_ATTRIBUTES = ("gsi2pk", "gsi2sk", "gsi3pk", "gsi3sk")


def track_index_attributes(did: str, track_id: int, record_uri: str | None, created_at: str) -> dict[str, str | None]:
    return {
        "gsi2pk": artist_partition(did),
        "gsi2sk": f"{_TRACK}{created_at}#{track_id:012d}",
        "gsi3pk": track_lookup(track_id),
        "gsi3sk": record_uri or "-",
    }


def image_key(image_id: str | None) -> str | None:
    return f"IMAGE#{image_id}" if image_id else None


ALBUM_FIELDS_INDEX = ("gsi1pk", "gsi1sk", "gsi2pk", "gsi2sk", "gsi3pk", "gsi3sk", "image_key")


# ---- cleanup jobs: one item each, listed under their artist in gsi2 by status -------------


def job(job_id: str) -> dict[str, str]:
    return {"pk": f"JOB#{job_id}", "sk": JOB}


def jobs_of(did: str) -> str:
    """gsi2 partition key of an artist's cleanup jobs."""
    return f"JOBS#{did}"


def job_status_sort(status: str, job_id: str) -> str:
    return f"{status}#{job_id}"


def job_status_prefix(status: str) -> str:
    return f"{status}#"


def sweep_state() -> dict[str, str]:
    return {"pk": "SWEEP", "sk": "STATE"}


ItemKind = Literal["job", "album", "track", "other"]


def kind_of(key: dict[str, Any]) -> ItemKind:
    """What a catalogue item is, from its key (a stream record carries only keys and images)."""
    sk = str(key.get("sk", ""))
    if sk == JOB:
        return "job"
    if sk == ALBUM:
        return "album"
    if sk.startswith(_TRACK):
        return "track"
    return "other"


# ---- the cache table ---------------------------------------------------------------------


def album_page(handle: str, slug: str) -> str:
    return f"album#{handle.lower()}#{slug.lower()}"


def artist_page_by_handle(handle: str) -> str:
    return f"artist-handle#{handle.lower()}"


def artist_page_by_did(did: str) -> str:
    # A DID is matched exactly: not lower-cased.
    return f"artist-did#{did}"


def stream_attempt(event_id: str) -> str:
    """The counter of attempts at one stream record."""
    return f"attempt#{event_id}"


# The sessions table: a session's key is the bare SHA-256 hex of its id (session_lookup); the
# OAuth flow's items carry a prefix no session key has.
_OAUTH_STATE = "oauth-state#"
_EXCHANGE = "exchange#"


def oauth_state(secret_hash: str) -> str:
    return f"{_OAUTH_STATE}{secret_hash}"


def exchange_token(secret_hash: str) -> str:
    return f"{_EXCHANGE}{secret_hash}"


# ---- the firehose consumer's own items ---------------------------------------------------


def firehose_lease(source: str) -> dict[str, str]:
    """The consumer's lease and checkpoint for one relay (sequence numbers are per relay)."""
    return {"pk": "FIREHOSE", "sk": f"LEASE#{source}"}


def repo_state(did: str) -> dict[str, str]:
    """What the consumer holds of a repository: the rev of the last commit applied, hidden."""
    return {"pk": f"REPO#{did}", "sk": "STATE"}


def like_record(liker_did: str, rkey: str) -> dict[str, str]:
    """One fm.plyr.like record (counted, duplicate, orphan, or deleted: a tombstone)."""
    return {"pk": f"{USER_PREFIX}{liker_did}", "sk": f"{_LIKE_RECORD}{rkey}"}


def like_rkey_of(sort_key: str) -> str:
    return sort_key.removeprefix(_LIKE_RECORD)


def orphans_partition(artist_did: str) -> str:
    """Likes of an artist's tracks we did not hold when they came: counted once the track is."""
    return f"ORPHANS#{artist_did}"


def orphan_like(track_uri: str, liker_did: str, rkey: str) -> dict[str, str]:
    return {
        "pk": orphans_partition(track_uri.removeprefix("at://").split("/", 1)[0]),
        "sk": f"{track_uri} {liker_did} {rkey}",
    }


# ---- developer tokens (sessions table) and the Subsonic API's own items -------------------


def developer_tokens(did: str) -> str:
    """An account's developer tokens: their names and dates, and the tokens sealed together."""
    return f"devtokens#{did}"


def developer_token(token_hash: str) -> str:
    """One token by the SHA-256 of its text: the account it belongs to (password and apiKey checks)."""
    return f"devtoken#{token_hash}"


def developer_handle(handle: str) -> str:
    """The account of a handle, as last seen at a token's creation (Subsonic's `u`)."""
    return f"devhandle#{handle.lower()}"


def subsonic_offset(list_type: str, offset: int) -> str:
    """Cache table: the listing's cursor where a Subsonic album list page at `offset` begins."""
    return f"subsonic-offset#{list_type}#{offset}"


def subsonic_album(album_id: str) -> str:
    """Cache table: where an album's page is cached (handle and slug), for getAlbum by id."""
    return f"subsonic-album#{album_id}"


def subsonic_order(list_type: str) -> str:
    """Cache table: the whole catalogue's album ids in one list type's order, short-lived."""
    return f"subsonic-order#{list_type}"


def scrobble(user_did: str, track_id: int, second: int) -> str:
    """Cache table: one counted play (user, track, time to the second), expiring after a day."""
    return f"scrobble#{user_did}#{track_id}#{second}"
