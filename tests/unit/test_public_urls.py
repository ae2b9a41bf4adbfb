"""URLs from records and DID documents: only what a browser may safely be sent to survives."""

import pytest

from albums_core.domain.public_urls import public_url

REFUSED_EVERYWHERE = [
    "javascript:alert(1)",
    "JavaScript:alert(document.cookie)",
    "data:text/html,<script>alert(1)</script>",
    "vbscript:msgbox",
    "file:///etc/passwd",
    "ftp://example.com/a.mp3",
    "//example.com/a.mp3",  # scheme-relative: the page's scheme decides
    "/relative/a.mp3",
    "https:example.com/a.mp3",
    "https:/example.com/a.mp3",
    "https:///a.mp3",
    "http://169.254.169.254/latest/meta-data/",
    "https://169.254.169.254/latest/meta-data/",
    "https://10.0.0.1/a.mp3",
    "https://192.168.1.1/a.mp3",
    "https://172.16.0.1/",
    "https://100.64.0.1/",
    "https://0.0.0.0/",
    "https://224.0.0.1/",
    "https://0xa9.0xfe.0xa9.0xfe/",  # browsers read these as IPv4 (WHATWG URL)
    "https://2852039166/",
    "https://0251.0376.0251.0376/",
    "https://169.254.43518/",
    "https://256.1.1.1/",  # a host a browser refuses
    "https://1.2.3.4.5/",
    "https://[::ffff:169.254.169.254]/",
    "https://[::ffff:a9fe:a9fe]/",
    "https://[::a9fe:a9fe]/",
    "https://[64:ff9b::a9fe:a9fe]/",
    "https://[2002:a9fe:a9fe::1]/",
    "https://[fe80::1]/",
    "https://[fd00::1]/",
    "https://[fec0::1]/",
    "https://[fe80::1%25eth0]/",
    "https://user:pw@example.com/a.mp3",
    "https://example.com@169.254.169.254/",
    "https://example.com\\@169.254.169.254/",
    "https://exa%6Dple.com/",
    "https://１６９.２５４.１６９.２５４/",  # full-width digits become ASCII in a browser
    "https://example.com:99999/",
    "https://exa mple.com/",
    " https://example.com/",
    "https://example.com/\n",
    "https://example.com/\u202e3pm.exe",
    "https://a..b/",
    "https://" + "a" * 2100 + ".com/",
    "",
    None,
    42,
    {"url": "https://example.com/"},
]


@pytest.mark.parametrize("url", REFUSED_EVERYWHERE)
def test_refused_in_production_and_in_local_mode(url: object) -> None:
    assert public_url(url, local=False) is None
    assert public_url(url, local=True) is None


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:4001/xrpc/com.atproto.sync.getBlob?did=did:plc:a&cid=b",
        "http://localhost:4000/a.png",
        "https://127.0.0.1/a.png",
        "https://[::1]/a.png",
        "http://example.com/a.mp3",
    ],
)
def test_http_and_loopback_only_in_local_mode(url: str) -> None:
    assert public_url(url, local=False) is None
    assert public_url(url, local=True) == url


@pytest.mark.parametrize(
    "url",
    [
        "https://cdn.plyr.fm/audio/abc.mp3",
        "HTTPS://CDN.plyr.fm/a.mp3?x=1#t=30",
        "https://img/alice.png",
        "https://example.com./a",
        "https://8.8.8.8/a.mp3",
        "https://[2606:4700:4700::1111]:8443/a.mp3",
        "https://pds.example/xrpc/com.atproto.sync.getBlob?did=did%3Aplc%3Aa&cid=bafy",
        "https://example.com/日本語.mp3",
    ],
)
def test_public_https_urls_are_returned_verbatim(url: str) -> None:
    assert public_url(url, local=False) == url
    assert public_url(url, local=True) == url


def test_track_records_are_checked_at_indexing_time() -> None:
    from albums_core.domain.records import track_fields

    uri = "at://did:plc:a/fm.plyr.track/3k"
    hostile = track_fields(uri, "c", {"title": "t", "audioUrl": "javascript:alert(1)", "imageUrl": "http://10.0.0.1/"})
    assert hostile["r2_url"] is None and hostile["image_url"] is None and hostile["audio_storage"] is None
    fine = track_fields(uri, "c", {"title": "t", "audioUrl": "https://cdn.example/a.mp3", "imageUrl": "https://i/a"})
    assert fine["r2_url"] == "https://cdn.example/a.mp3" and fine["image_url"] == "https://i/a"
    assert fine["audio_storage"] == "r2"
