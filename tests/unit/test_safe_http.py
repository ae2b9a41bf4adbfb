"""The SSRF guard: which addresses and URLs the PDS fetch refuses before it connects (the fetch
against loopback servers is in tests/integration/test_safe_http_loopback.py)."""

import ipaddress

import pytest

from albums_core.adapters.atproto.safe_http import FetchError, get_json, resolve_checked


@pytest.mark.parametrize(
    "target",
    [
        "http://169.254.169.254/latest/meta-data/",
        "https://169.254.169.254/",
        "https://10.0.0.1/",
        "https://192.168.1.1/",
        "https://172.16.0.1/",
        "https://127.0.0.1/",
        "https://[::1]/",
        "https://[::ffff:10.0.0.1]/",
        "https://0.0.0.0/",
        "https://100.64.0.1/",
    ],
)
def test_private_and_metadata_addresses_are_refused_in_production_mode(target: str) -> None:
    with pytest.raises(FetchError):
        get_json(target, timeout=1, max_bytes=1000, allow_loopback=False)


@pytest.mark.parametrize("target", ["https://169.254.169.254/", "https://10.0.0.1/", "http://10.0.0.1/"])
def test_local_mode_allows_loopback_only(target: str) -> None:
    with pytest.raises(FetchError):
        get_json(target, timeout=1, max_bytes=1000, allow_loopback=True)


@pytest.mark.parametrize(
    "target",
    [
        "ftp://example.com/",
        "file:///etc/passwd",
        "https://user:pw@example.com/",
        "https:///nohost",
        "http://example.com/",
        "https://example.com:99999/",
    ],
)
def test_bad_urls_are_refused(target: str) -> None:
    with pytest.raises(FetchError):
        get_json(target, timeout=1, max_bytes=1000, allow_loopback=False)


# First and last address of every entry of the IANA special-purpose registries (IPv4 and IPv6),
# as of their 2025 versions, written out here rather than read from the guard's own table.
SPECIAL_PURPOSE_BLOCKS = [
    "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16", "172.16.0.0/12",
    "192.0.0.0/24", "192.0.0.0/29", "192.0.0.8/32", "192.0.0.9/32", "192.0.0.10/32", "192.0.0.170/32",
    "192.0.0.171/32", "192.0.2.0/24", "192.31.196.0/24", "192.52.193.0/24", "192.88.99.0/24",
    "192.88.99.2/32", "192.168.0.0/16", "192.175.48.0/24", "198.18.0.0/15", "198.51.100.0/24",
    "203.0.113.0/24", "240.0.0.0/4", "255.255.255.255/32",
    "::1/128", "::/128", "::ffff:0:0/96", "64:ff9b::/96", "64:ff9b:1::/48", "100::/64", "100:0:0:1::/64",
    "2001::/23", "2001::/32", "2001:1::1/128", "2001:1::2/128", "2001:1::3/128", "2001:2::/48",
    "2001:3::/32", "2001:4:112::/48", "2001:10::/28", "2001:20::/28", "2001:30::/28", "2001:db8::/32",
    "2002::/16", "2620:4f:8000::/48", "3fff::/20", "5f00::/16", "fc00::/7", "fe80::/10",
]  # fmt: skip
EDGES = sorted(
    {str(a) for n in map(ipaddress.ip_network, SPECIAL_PURPOSE_BLOCKS) for a in (n[0], n[-1])}
    # The loopback blocks are tested apart: they pass in local mode.
    - {"127.0.0.0", "127.255.255.255", "::1", "::ffff:127.0.0.0", "::ffff:127.255.255.255"}
)


@pytest.mark.parametrize("address", EDGES)
@pytest.mark.parametrize("allow_loopback", [False, True])
def test_every_special_purpose_block_is_refused(address: str, allow_loopback: bool) -> None:
    with pytest.raises(FetchError, match="not allowed"):
        resolve_checked(address, 443, allow_loopback)


@pytest.mark.parametrize(
    "address",
    [
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "64:ff9b:1:a9fe:a9:fe00::",  # local-use NAT64 of 169.254.169.254
        "::a9fe:a9fe",  # IPv4-compatible
        "::169.254.169.254",
        "::7f00:1",
        "::ffff:0:a9fe:a9fe",  # the IPv4-translated form (RFC 2765)
        "::ffff:169.254.169.254",
        "::ffff:10.0.0.1",
        "fec0::1",  # deprecated site-local
        "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
        "2002:0808:0808::1",  # 6to4 even of a public address
        "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
        "4000::1",  # outside global unicast
        "ff02::1",  # multicast
        "224.0.0.1",
        "239.255.255.250",
        "fe80::1%1",  # link-local with a scope id
    ],
)
def test_ipv6_forms_embedding_ipv4_and_reserved_space_are_refused(address: str) -> None:
    for allow_loopback in (False, True):
        with pytest.raises(FetchError, match="not allowed"):
            resolve_checked(address, 443, allow_loopback)


@pytest.mark.parametrize("address", ["127.0.0.1", "127.255.255.254", "::1", "::ffff:127.0.0.1"])
def test_loopback_passes_in_local_mode_only(address: str) -> None:
    with pytest.raises(FetchError):
        resolve_checked(address, 443, allow_loopback=False)
    assert resolve_checked(address, 443, allow_loopback=True)


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "1.1.1.1", "192.0.1.255", "192.0.3.0", "2606:4700:4700::1111", "2a00:1450:4001::1"]
)
def test_public_addresses_pass(address: str) -> None:
    assert resolve_checked(address, 443, allow_loopback=False)


@pytest.mark.parametrize("verdict", [True, False])
def test_the_guard_does_not_depend_on_the_ipaddress_classification(
    monkeypatch: pytest.MonkeyPatch, verdict: bool
) -> None:
    """Python versions classify addresses differently (is_global in 3.13 is not 3.11's): the
    guard uses its own copy of the registries, so lying properties change nothing."""
    for cls in (ipaddress.IPv4Address, ipaddress.IPv6Address):
        for name in ("is_global", "is_private", "is_loopback", "is_link_local", "is_reserved", "is_multicast"):
            monkeypatch.setattr(cls, name, property(lambda self, v=verdict: v))
        monkeypatch.setattr(cls, "ipv4_mapped", property(lambda self: None), raising=False)
    for refused in ("169.254.169.254", "10.0.0.1", "::ffff:169.254.169.254", "fe80::1", "2002:a9fe:a9fe::1"):
        with pytest.raises(FetchError):
            resolve_checked(refused, 443, allow_loopback=False)
    assert resolve_checked("8.8.8.8", 443, allow_loopback=False) == "8.8.8.8"
    assert resolve_checked("127.0.0.1", 443, allow_loopback=True) == "127.0.0.1"


def test_embedded_ipv4_extraction() -> None:
    from albums_core.domain.ip_ranges import embedded_ipv4

    def found(address: str) -> list[str]:
        return [str(a) for a in embedded_ipv4(ipaddress.IPv6Address(address))]

    assert found("::ffff:169.254.169.254") == ["169.254.169.254"]
    assert found("::169.254.169.254") == ["169.254.169.254"]
    assert found("64:ff9b::10.0.0.1") == ["10.0.0.1"]
    assert found("64:ff9b:1:a9fe:a9:fe00::") == ["169.254.169.254"]
    assert found("2002:a9fe:a9fe::1") == ["169.254.169.254"]
    # Teredo: server 65.54.227.120, client 192.0.2.45 stored complemented (RFC 4380 example)
    assert found("2001:0:4136:e378:8000:63bf:3fff:fdd2") == ["65.54.227.120", "192.0.2.45"]
    assert found("2606:4700:4700::1111") == []
