"""Which IP addresses a URL from someone else's data may point at (pure).

The ranges are data copied from the IANA registries named below, not derived from
`ipaddress.is_global` and friends: their answers differ between Python versions (3.13 changed
several IPv6 ones), and a guard must not change with the runtime.
Every entry of the special-purpose registries is refused, globally reachable or not: none of
them is a place an artist's PDS, audio file or image lives.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address, IPv6Network, ip_address

# IANA IPv4 Special-Purpose Address Registry (iana-ipv4-special-registry), every entry.
IPV4_SPECIAL_PURPOSE = (
    "0.0.0.0/8",  # "This network" (RFC 791); 0.0.0.0/32 "this host" is inside it
    "10.0.0.0/8",  # Private-Use (RFC 1918)
    "100.64.0.0/10",  # Shared Address Space (RFC 6598)
    "127.0.0.0/8",  # Loopback (RFC 1122)
    "169.254.0.0/16",  # Link Local (RFC 3927)
    "172.16.0.0/12",  # Private-Use (RFC 1918)
    "192.0.0.0/24",  # IETF Protocol Assignments (RFC 6890); holds the /29, /32 entries below
    "192.0.0.0/29",  # IPv4 Service Continuity Prefix (RFC 7335)
    "192.0.0.8/32",  # IPv4 dummy address (RFC 7600)
    "192.0.0.9/32",  # Port Control Protocol Anycast (RFC 7723)
    "192.0.0.10/32",  # Traversal Using Relays around NAT Anycast (RFC 8155)
    "192.0.0.170/32",  # NAT64/DNS64 Discovery (RFC 7050)
    "192.0.0.171/32",  # NAT64/DNS64 Discovery (RFC 7050)
    "192.0.2.0/24",  # Documentation, TEST-NET-1 (RFC 5737)
    "192.31.196.0/24",  # AS112-v4 (RFC 7535)
    "192.52.193.0/24",  # AMT (RFC 7450)
    "192.88.99.0/24",  # Deprecated 6to4 Relay Anycast (RFC 7526)
    "192.88.99.2/32",  # 6a44-relay anycast address (RFC 6751)
    "192.168.0.0/16",  # Private-Use (RFC 1918)
    "192.175.48.0/24",  # Direct Delegation AS112 Service (RFC 7534)
    "198.18.0.0/15",  # Benchmarking (RFC 2544)
    "198.51.100.0/24",  # Documentation, TEST-NET-2 (RFC 5737)
    "203.0.113.0/24",  # Documentation, TEST-NET-3 (RFC 5737)
    "240.0.0.0/4",  # Reserved (RFC 1112)
    "255.255.255.255/32",  # Limited Broadcast (RFC 919)
)

# IANA IPv4 Address Space Registry (ipv4-address-space): multicast is not unicast to a host.
IPV4_NOT_UNICAST = ("224.0.0.0/4",)  # Multicast (RFC 5771)

# IANA IPv6 Special-Purpose Address Registry (iana-ipv6-special-registry), every entry.
IPV6_SPECIAL_PURPOSE = (
    "::1/128",  # Loopback Address (RFC 4291)
    "::/128",  # Unspecified Address (RFC 4291)
    "::ffff:0:0/96",  # IPv4-mapped Address (RFC 4291)
    "64:ff9b::/96",  # IPv4-IPv6 Translat. (RFC 6052)
    "64:ff9b:1::/48",  # IPv4-IPv6 Translat. (RFC 8215)
    "100::/64",  # Discard-Only Address Block (RFC 6666)
    "100:0:0:1::/64",  # Dummy IPv6 Prefix (RFC 9780)
    "2001::/23",  # IETF Protocol Assignments (RFC 2928)
    "2001::/32",  # TEREDO (RFC 4380, RFC 8190)
    "2001:1::1/128",  # Port Control Protocol Anycast (RFC 7723)
    "2001:1::2/128",  # Traversal Using Relays around NAT Anycast (RFC 8155)
    "2001:1::3/128",  # DNS-SD Service Registration Protocol Anycast (RFC 9665)
    "2001:2::/48",  # Benchmarking (RFC 5180)
    "2001:3::/32",  # AMT (RFC 7450)
    "2001:4:112::/48",  # AS112-v6 (RFC 7535)
    "2001:10::/28",  # Deprecated, previously ORCHID (RFC 4843)
    "2001:20::/28",  # ORCHIDv2 (RFC 7343)
    "2001:30::/28",  # Drone Remote ID Protocol Entity Tags (RFC 9374)
    "2001:db8::/32",  # Documentation (RFC 3849)
    "2002::/16",  # 6to4 (RFC 3056)
    "2620:4f:8000::/48",  # Direct Delegation AS112 Service (RFC 7534)
    "3fff::/20",  # Documentation (RFC 9637)
    "5f00::/16",  # Segment Routing (SRv6) SIDs (RFC 9602)
    "fc00::/7",  # Unique-Local (RFC 4193, RFC 8190)
    "fe80::/10",  # Link-Local Unicast (RFC 4291)
)

# IANA IPv6 Address Space Registry (ipv6-address-space): unicast is assigned from 2000::/3
# only; the rest is reserved by the IETF (the deprecated site-local fec0::/10, RFC 3879,
# among it), unique-local, link-local or multicast.
IPV6_GLOBAL_UNICAST = IPv6Network("2000::/3")

_V4 = tuple(IPv4Network(n) for n in IPV4_SPECIAL_PURPOSE + IPV4_NOT_UNICAST)
_V6 = tuple(IPv6Network(n) for n in IPV6_SPECIAL_PURPOSE)
_V4_LOOPBACK = IPv4Network("127.0.0.0/8")
_V6_LOOPBACK = IPv6Address("::1")
_MAPPED = IPv6Network("::ffff:0:0/96")
_COMPATIBLE = IPv6Network("::/96")  # deprecated IPv4-compatible addresses (RFC 4291 2.5.5.1)
_NAT64 = (IPv6Network("64:ff9b::/96"), IPv6Network("64:ff9b:1::/48"))
_6TO4 = IPv6Network("2002::/16")
_TEREDO = IPv6Network("2001::/32")


def _v4(value: int) -> IPv4Address:
    return IPv4Address(value & 0xFFFFFFFF)


def embedded_ipv4(ip: IPv6Address) -> list[IPv4Address]:
    """The IPv4 addresses an IPv6 address carries in a standard embedding: IPv4-mapped and
    IPv4-compatible (last 32 bits), NAT64 (RFC 6052, last 32 bits for the /96, bits 48-88 of
    the local-use /48 around its reserved octet), 6to4 (bits 16-48), Teredo (server bits 32-64,
    client the complement of the last 32 bits)."""
    value = int(ip)
    found: list[IPv4Address] = []
    if ip in _MAPPED or (ip in _COMPATIBLE and value > 1):
        found.append(_v4(value))
    if ip in _NAT64[0]:
        found.append(_v4(value))
    elif ip in _NAT64[1]:
        # RFC 6052 /48 layout: 16 bits of the IPv4 address, the reserved octet u, then 16 more.
        found.append(_v4(((value >> 64) & 0xFFFF) << 16 | (value >> 40) & 0xFFFF))
    if ip in _6TO4:
        found.append(_v4(value >> 80))
    if ip in _TEREDO:
        found.append(_v4(value >> 64))
        found.append(_v4(~value))
    return found


def _ipv4_allowed(ip: IPv4Address, allow_loopback: bool) -> bool:
    if allow_loopback and ip in _V4_LOOPBACK:
        return True
    return not any(ip in net for net in _V4)


def address_allowed(address: str | IPv4Address | IPv6Address, allow_loopback: bool) -> bool:
    """True when `address` may be connected to or linked: outside every special-purpose range
    (IPv6: inside global unicast too), and so is any IPv4 address it embeds. Loopback passes
    only with `allow_loopback` (the local runtime and tests). A scope id (`%eth0`) is dropped."""
    ip = ip_address(address.split("%", 1)[0]) if isinstance(address, str) else address
    if isinstance(ip, IPv4Address):
        return _ipv4_allowed(ip, allow_loopback)
    if ip in _MAPPED:  # on the wire this is the IPv4 address itself
        return _ipv4_allowed(_v4(int(ip)), allow_loopback)
    if allow_loopback and ip == _V6_LOOPBACK:
        return True
    if ip not in IPV6_GLOBAL_UNICAST or any(ip in net for net in _V6):
        return False
    return all(_ipv4_allowed(v4, allow_loopback=False) for v4 in embedded_ipv4(ip))


def is_loopback(address: str) -> bool:
    ip = ip_address(address.split("%", 1)[0])
    if isinstance(ip, IPv6Address) and ip in _MAPPED:
        ip = _v4(int(ip))
    return ip in _V4_LOOPBACK if isinstance(ip, IPv4Address) else ip == _V6_LOOPBACK
