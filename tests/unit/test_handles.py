import pytest

from albums_core.domain.handles import normalize_artist_ref, normalize_handle, normalize_slug


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("alice.test", "alice.test"),
        ("ALICE.Test", "alice.test"),
        ("@alice.bsky.social", "alice.bsky.social"),
        ("xn--caf-dma.example", "xn--caf-dma.example"),
    ],
)
def test_valid_handles_are_lower_cased(raw: str, expected: str) -> None:
    assert normalize_handle(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "..",
        "alice",
        "alice..test",
        "\x00",
        "al\x00ice.test",
        "🎵.test",
        "ünï.test",
        "\u212aenji.test",  # KELVIN SIGN lower-cases to an ASCII "k": not kenji.test
        "\u0130nci.test",  # DOTTED CAPITAL I lower-cases to "i" plus a combining dot
        "a" * 300 + ".test",
        "-alice.test",
        "alice.123",
        "a/b.test",
    ],
)
def test_invalid_handles_are_refused(raw: str) -> None:
    assert normalize_handle(raw) is None


@pytest.mark.parametrize("raw", ["", "..", "a b", "🎵", "ü", "a" * 101, "-a", "a--b", "a\x00"])
def test_invalid_slugs_are_refused(raw: str) -> None:
    assert normalize_slug(raw) is None


def test_slug_is_lower_cased() -> None:
    assert normalize_slug("Cafe-Del-Mar") == "cafe-del-mar"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Alice.Test", "alice.test"),
        ("did:plc:abcdefghijklmnopqrstuvwx", "did:plc:abcdefghijklmnopqrstuvwx"),
        ("did:web:Example.COM", "did:web:example.com"),
        ("did:plc:ABCDEFGHIJKLMNOPQRSTUVWX", None),  # did:plc is lower-case base32
        ("did:plc:short", None),
        ("did:key:zQ3shabc", None),
        ("did:web:a/b", None),
        ("did:", None),
    ],
)
def test_artist_refs_are_handles_or_dids(raw: str, expected: str | None) -> None:
    assert normalize_artist_ref(raw) == expected
