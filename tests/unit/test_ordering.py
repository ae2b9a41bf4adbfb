from albums_core.domain.models import Track
from albums_core.domain.ordering import order_tracks


def track(n: int, created: str, uri: str | None = None) -> Track:
    return Track(
        id=n,
        title=f"t{n}",
        artist_did="did:plc:a",
        file_id=f"f{n}",
        file_type="mp3",
        created_at=created,
        record_uri=uri or f"at://did:plc:a/fm.plyr.track/{n}",
    )


TRACKS = [track(1, "2026-01-03"), track(2, "2026-01-01"), track(3, "2026-01-02"), track(4, "2026-01-02")]
URI = {t.id: t.record_uri or "" for t in TRACKS}


def ids(tracks: list[Track]) -> list[int]:
    return [t.id for t in tracks]


def test_record_order_wins() -> None:
    assert ids(order_tracks(TRACKS, [URI[4], URI[1], URI[2], URI[3]], [])) == [4, 1, 2, 3]


def test_duplicates_do_not_duplicate_tracks() -> None:
    assert ids(order_tracks(TRACKS, [URI[1], URI[1], URI[2], URI[1], URI[3], URI[4]], [])) == [1, 2, 3, 4]


def test_foreign_uris_are_ignored_and_missing_tracks_follow_by_created_at_then_id() -> None:
    order = ["at://did:plc:other/fm.plyr.track/9", URI[1], "not a uri"]
    assert ids(order_tracks(TRACKS, order, [])) == [1, 2, 3, 4]


def test_known_order_when_the_record_is_unavailable() -> None:
    assert ids(order_tracks(TRACKS, None, [URI[3], URI[1]])) == [3, 1, 2, 4]


def test_created_at_when_nothing_is_known() -> None:
    assert ids(order_tracks(TRACKS, None, [])) == [2, 3, 4, 1]


def test_an_empty_list_record_is_an_answer_not_a_failure() -> None:
    assert ids(order_tracks(TRACKS, [], [URI[1]])) == [2, 3, 4, 1]
