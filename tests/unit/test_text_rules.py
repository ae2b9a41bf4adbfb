"""The list lexicon's title rules: what a reader cannot see or that reorders text is refused,
and the name fits both limits of the lexicon (64 graphemes, 256 bytes of UTF-8)."""

import pytest

from albums_core.domain.errors import Unprocessable
from albums_core.domain.text_rules import clean_description, clean_title, salvage_title

FLAG = "\U0001f1ef\U0001f1f5"  # a regional-indicator pair: one grapheme, 8 bytes
SCOTLAND = "\U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"


@pytest.mark.parametrize(
    "title",
    [
        "\u3164",  # HANGUL FILLER: looks blank
        "\u2800",  # BRAILLE PATTERN BLANK
        "\u3164\u3164 \u2800",
        "\u115f\u1160",
        "\uffa0",
        "\u034f",
        "\u200b",
        "\ufeff",
        "\u2060",
        "\u00ad",
        "\u17b4",
        "\ufe0f",  # a selector with nothing to select
        "\u200d",
    ],
)
def test_visually_blank_titles_are_refused(title: str) -> None:
    with pytest.raises(Unprocessable, match=r"^title: "):
        clean_title(title)


@pytest.mark.parametrize(
    "hidden",
    [
        "\u202a", "\u202b", "\u202c", "\u202d", "\u202e",  # embeddings and overrides
        "\u2066", "\u2067", "\u2068", "\u2069",  # isolates
        "\u200e", "\u200f", "\u061c",  # marks
        "\u200b", "\ufeff", "\u2060", "\u2061", "\u180e", "\u00ad", "\ufff9",
        "\u3164", "\u2800", "\u115f", "\uffa0", "\u034f",
        "\U0001d173", "\U000e0001", "\U000e0041", "\U000e007f",
    ],
)  # fmt: skip
def test_invisible_and_bidi_characters_inside_a_title_are_refused(hidden: str) -> None:
    with pytest.raises(Unprocessable, match=rf"^name: .*invisible.*U\+{ord(hidden):04X}"):
        clean_title(f"Night{hidden}Drive", field="name")


@pytest.mark.parametrize(
    "smuggled",
    [
        "ok\u200d",  # joiner at the end
        "\u200dok",
        "a\u200d\u200db",
        "a \u200d b",
        "\U0001f600\ufe0f\ufe0f",  # a run of selectors carries hidden data
        "\U0001f600" + "".join(chr(0xE0100 + b) for b in b"secret"),
        "A" + "".join(chr(0xE0000 + b) for b in b"ignore previous"),  # tag smuggling
        "\U0001f3f4\U000e0067\U000e0062",  # a flag tag sequence without its end
        "\U0001f3f4" + "\U000e0061" * 20 + "\U000e007f",
    ],
)
def test_joiners_selectors_and_tags_out_of_place_are_refused(smuggled: str) -> None:
    with pytest.raises(Unprocessable, match=r"^title: .*invisible"):
        clean_title(smuggled)


@pytest.mark.parametrize("nonchar", ["\uffff", "\ufffe", "\ufdd0", "\ufdef", "\U0001fffe", "\U0010ffff"])
def test_noncharacters_are_refused(nonchar: str) -> None:
    with pytest.raises(Unprocessable, match=rf"^title: must not contain noncharacters \(U\+{ord(nonchar):04X}\)"):
        clean_title(f"a{nonchar}b")


def test_lone_surrogates_are_invalid_text() -> None:
    with pytest.raises(Unprocessable, match=r"^title: must be valid UTF-8 text"):
        clean_title("a\ud800b")
    with pytest.raises(Unprocessable, match=r"^description: must be valid UTF-8 text"):
        clean_description("a\udfffb")


@pytest.mark.parametrize(
    "title",
    [
        "\U0001f468\u200d\U0001f469\u200d\U0001f467",  # family: ZWJ sequence
        "\u2764\ufe0f Love",  # emoji presentation selector
        "می\u200cخواهم",  # ZWNJ in Persian
        "क्\u200dष",  # ZWJ in Devanagari
        SCOTLAND + " Highlands",  # subdivision flag
        "葛\U000e0100城市",  # ideographic variation selector
        "🎵🎶 שלום مرحبا",  # mixed directions need no controls
        "a\u0301" * 64,
    ],
)
def test_text_that_needs_joiners_and_selectors_is_kept(title: str) -> None:
    assert clean_title(title) == title


def test_64_flags_are_64_graphemes_but_over_the_byte_limit() -> None:
    assert clean_title(FLAG * 32) == FLAG * 32  # 256 bytes
    with pytest.raises(Unprocessable, match=r"^name: at most 64 characters \(256 bytes of UTF-8\)"):
        clean_title(FLAG * 64, field="name")  # 64 graphemes, 512 bytes
    with pytest.raises(Unprocessable):
        clean_title(FLAG * 32 + "a")  # 257 bytes


def test_the_byte_limit_counts_utf8_not_code_points() -> None:
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # one grapheme, 5 code points, 18 bytes
    assert clean_title(family * 14) == family * 14  # 252 bytes
    with pytest.raises(Unprocessable, match="256 bytes"):
        clean_title(family * 15)  # 15 graphemes, 75 code points, 270 bytes


@pytest.mark.parametrize(
    ("name", "salvaged"),
    [
        ("Night\u202eDrive", "NightDrive"),
        ("\u200b Dawn \u2800", "Dawn"),
        ("\u3164", None),
        ("a\uffffb", "ab"),
        (FLAG * 64, FLAG * 32),
        ("a" + FLAG * 64, "a" + FLAG * 31),  # never half a flag
        ("\U0001f44d\U0001f3fd" * 40, "\U0001f44d\U0001f3fd" * 32),  # nor a thumb without its skin tone
        ("é" * 300, "é" * 64),
        (SCOTLAND * 2, SCOTLAND * 2),
        (42, None),
    ],
)
def test_salvaged_titles_of_records_others_wrote_follow_the_rules(name: object, salvaged: str | None) -> None:
    assert salvage_title(name) == salvaged
    if salvaged is not None:
        assert clean_title(salvaged) == salvaged


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        ("\u202eevirD\u202c thgiN", "evirD thgiN"),  # bidi overrides (issue 18.2)
        ("A\u2066B\u2069C", "ABC"),  # isolates
        ("Tab\tand\nline", "Tab and line"),
        ("Bell\u0007\u0000", "Bell"),  # controls
        ("Soft\u00adhyphen\u200b", "Softhyphen"),
        ("\U0001f469\u200d\U0001f4bb coder", "\U0001f469\u200d\U0001f4bb coder"),  # a ZWJ emoji stays
        (SCOTLAND + " flag", SCOTLAND + " flag"),
        ("\u200b\u202e\u2066", None),  # nothing visible left
        (42, None),
        ("x" * 600, "x" * 256),
    ],
)
def test_text_read_from_records_loses_what_a_reader_would_not_see(raw: object, kept: str | None) -> None:
    from albums_core.domain.text_rules import record_text

    assert record_text(raw, 256) == kept


def test_a_description_read_from_a_record_keeps_its_lines_not_its_controls() -> None:
    from albums_core.domain.text_rules import record_description

    assert record_description(" one\n\u202etwo\u0000\t3 \u2067") == "one\ntwo\t3"
    assert record_description("\u202e\u0000") is None and record_description(["x"]) is None


def test_hidden_characters_next_to_a_flag_or_a_joiner_leave_them_whole() -> None:
    from albums_core.domain.text_rules import record_text

    zwj = "\U0001f469\u200d\U0001f4bb"
    assert record_text(SCOTLAND + "\u200b\u202e!", 256) == SCOTLAND + "!"
    assert record_text(zwj + "\u2066\u200b" + zwj, 256) == zwj + zwj
    assert record_text("\u200b" * 300 + "x" + "\u202e" * 200, 256) == "x"
