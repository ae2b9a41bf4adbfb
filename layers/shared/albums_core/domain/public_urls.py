"""URLs that came from records or DID documents, made safe to hand to a browser.

Anyone can write a record, so an `audioUrl` may say `javascript:...` or point a player at the
cloud metadata address. Only https URLs (http too in local mode) to a host name or a public IP
literal pass; anything else becomes None. Hosts are parsed the way a browser does (WHATWG
URL: `0x7f.1` and `2130706433` are IPv4 literals there) so a name that a browser would turn
into a refused address is refused here too. No DNS: names are not resolved.
"""

from __future__ import annotations

import re
import unicodedata
from ipaddress import IPv4Address, IPv6Address
from urllib.parse import urlsplit

from albums_core.config import settings
from albums_core.domain.ip_ranges import address_allowed

MAX_URL_CHARS = 2048
_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?$")
_NUMBER = re.compile(r"^(?:0[xX][0-9a-fA-F]*|[0-9]+)$")


def _local() -> bool:
    cfg = settings()
    return cfg.local_mode or cfg.allow_loopback_pds


def _ipv4_number(part: str) -> int | None:
    """One part of a WHATWG IPv4 host: decimal, 0x hex or 0-prefixed octal."""
    if not _NUMBER.match(part):
        return None
    if part[:2].lower() == "0x":
        return int(part[2:] or "0", 16)
    if len(part) > 1 and part.startswith("0"):
        return int(part, 8) if all(c in "01234567" for c in part) else None
    return int(part)


def _whatwg_ipv4(host: str) -> IPv4Address | bool | None:
    """The address of a host a browser reads as IPv4; False when the host is a name, None
    when a browser would refuse the URL (an IPv4-looking host that does not parse)."""
    parts = host.split(".")
    if parts[-1] == "" and len(parts) > 1:
        parts.pop()
    if not _NUMBER.match(parts[-1]):
        return False
    numbers = [_ipv4_number(p) for p in parts]
    if len(numbers) > 4 or any(n is None for n in numbers):
        return None
    values = [n for n in numbers if n is not None]
    if any(n > 255 for n in values[:-1]) or values[-1] >= 256 ** (5 - len(values)):
        return None
    value = values[-1]
    for i, n in enumerate(values[:-1]):
        value += n << (8 * (3 - i))
    return IPv4Address(value)


def _host_allowed(host: str, local: bool) -> bool:
    if host.startswith("["):
        try:
            ip = IPv6Address(host[1:-1])
        except ValueError:
            return False
        return address_allowed(ip, allow_loopback=local)
    ipv4 = _whatwg_ipv4(host)
    if ipv4 is None:
        return False
    if isinstance(ipv4, IPv4Address):
        return address_allowed(ipv4, allow_loopback=local)
    name = host.rstrip(".")
    if not local and (name == "localhost" or name.endswith(".localhost")):  # always loopback, RFC 6761
        return False
    return bool(name) and all(_LABEL.match(label) for label in name.split("."))


def public_url(url: object, *, local: bool | None = None) -> str | None:
    """`url` unchanged when a browser may be sent there, else None. `local` defaults to the
    local runtime's setting (http and loopback allowed)."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL_CHARS:
        return None
    local = _local() if local is None else local
    # White space, controls and backslashes: browsers strip or rewrite them, so the URL they
    # follow is not the one checked here.
    if any(c == "\\" or c.isspace() or unicodedata.category(c) in ("Cc", "Cf", "Cs") for c in url):
        return None
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in (("https", "http") if local else ("https",)):
        return None
    parts = urlsplit(url)
    authority = rest.split("/", 1)[0].split("?", 1)[0].split("#", 1)[0]
    if "@" in authority or "%" in authority or not authority.isascii():
        return None  # credentials (https://trusted@evil), encoded or unicode hosts
    try:
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError:
        return None
    host = parts.netloc.rsplit(":", 1)[0] if not parts.netloc.endswith("]") else parts.netloc
    host = host.lower()
    if not host or not _host_allowed(host, local):
        return None
    return url
