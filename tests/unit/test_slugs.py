from hypothesis import given
from hypothesis import strategies as st

from albums_core.domain.handles import MAX_SLUG, normalize_slug
from albums_core.domain.slugs import slugify


def test_latin_title() -> None:
    assert slugify("Hello, World!") == "hello-world"


def test_accents_are_transliterated() -> None:
    assert slugify("Café del Mar") == "cafe-del-mar"


def test_non_latin_titles_give_meaningful_slugs() -> None:
    assert slugify("日本語") == "ribenyu"
    assert slugify("Москва") == "moskva"


def test_symbols_only_title_is_never_empty_and_stable() -> None:
    first = slugify("!!!")
    assert first.startswith("album-") and first == slugify("!!!")
    assert slugify("!!!") != slugify("???")


def test_long_title_is_cut_at_a_word_boundary() -> None:
    title = " ".join(["word"] * 40)
    slug = slugify(title)
    assert len(slug) <= MAX_SLUG
    assert not slug.endswith("-") and slug.endswith("word")


def test_single_overlong_word_is_truncated() -> None:
    assert slugify("a" * 150) == "a" * MAX_SLUG


@given(st.text(max_size=300))
def test_any_title_gives_a_valid_slug(title: str) -> None:
    slug = slugify(title)
    assert slug and len(slug) <= MAX_SLUG
    assert normalize_slug(slug) == slug
