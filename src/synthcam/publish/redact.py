"""Keep credentials out of sight: URLs with tokens are masked in anything shown or logged."""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit, urlunsplit

__all__ = ["mask_url", "redact", "strip_userinfo"]

_URL_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@]+@")
_AUTH_HEADER = re.compile(r"(?i)(authorization:\s*\w+\s+)\S+")


def mask_url(url: str) -> str:
    """`https://user:token@host/x` -> `https://***@host/x`: safe to print and log."""
    return _URL_USERINFO.sub(r"\g<scheme>***@", url)


def redact(text: str) -> str:
    """Mask URL credentials and Authorization headers anywhere in a block of output."""
    return _AUTH_HEADER.sub(r"\g<1>***", mask_url(text))


def strip_userinfo(url: str) -> tuple[str, str | None, str | None]:
    """Split `scheme://user:pass@host/path` into the bare URL, the user and the password."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    return urlunsplit(parts._replace(netloc=hostport)), unquote(user) or None, unquote(password) or None
