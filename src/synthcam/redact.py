"""Keep credentials and terminal tricks out of anything synthcam shows, logs or stores.

One function, `mask_secrets`, is applied wherever text leaves the process or reaches the store:
backend output, error messages, `--json` reports, URLs of remotes. It knows the shapes secrets
come in (URL userinfo, Authorization headers, well-known token prefixes, `NAME=value` pairs whose
name says secret) and, through `Masker`, the exact values of secret-named environment variables.

`terminal_safe` strips control sequences (clear screen, OSC 52 clipboard writes, window titles)
from untrusted text before it reaches a terminal.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from urllib.parse import unquote, urlsplit, urlunsplit

__all__ = ["MASK", "Masker", "mask_secrets", "mask_url", "secret_name", "strip_userinfo", "terminal_safe"]

MASK = "***"

# A name that says "this holds a secret": API_KEY, HF_TOKEN, DB_PW, MY_PASSWORD, AWS_SECRET...
_SECRET_NAME = re.compile(
    r"(?i)((^|[_.-])(tokens?|pw|pwd|pass|key|apikey|credentials?|auth)$)|password|passwd|secret"
)

# URL userinfo: everything between "scheme://" and the LAST "@" before the host (a password may
# itself hold "@"; the sender splits at the last one, so must we).
_URL_USERINFO = re.compile(r"(?P<scheme>\b[a-zA-Z][a-zA-Z0-9+.-]*://)(?P<userinfo>[^/\s?#]*)@(?=[^/\s@?#]*(?:[/\s?#]|$))")

_PATTERNS: list[tuple[re.Pattern[str], str]] = [
    # Authorization: Bearer xyz / Basic xyz / token xyz (headers and curl -H)
    (re.compile(r"(?i)\b(authorization\s*[:=]\s*[\"']?)(?:(bearer|basic|token|digest)\s+)?[^\s\"',;]+"),
     r"\1\2 " + MASK),
    # bare "Bearer <token>"
    (re.compile(r"(?i)\b(bearer)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 " + MASK),
    # Hugging Face, GitHub (classic and fine-grained), GitLab, Slack, OpenAI-style, Google API keys
    (re.compile(r"\bhf_[A-Za-z0-9]{6,}"), "hf_" + MASK),
    (re.compile(r"\b(gh[pousr])_[A-Za-z0-9]{16,}"), r"\1_" + MASK),
    (re.compile(r"\bgithub_pat_[A-Za-z0-9_]{20,}"), "github_pat_" + MASK),
    (re.compile(r"\bglpat-[A-Za-z0-9_-]{16,}"), "glpat-" + MASK),
    (re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"), "xox-" + MASK),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"), "sk-" + MASK),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{30,}"), "AIza" + MASK),
    # AWS access key IDs, and 40-character secrets that follow an aws secret name
    (re.compile(r"\b(AKIA|ASIA|AGPA|AIDA|AROA|ANPA)[A-Z0-9]{16}\b"), r"\1" + MASK),
    # JSON web tokens
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), "jwt:" + MASK),
    # PEM private keys
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|\Z)", re.S),
     "-----PRIVATE KEY " + MASK + "-----"),
]

# NAME=value, NAME: value, "NAME": "value" where NAME says secret
_ASSIGNMENT = re.compile(
    r"(?P<lead>\b(?P<name>[A-Za-z_][A-Za-z0-9_.-]*)[\"']?\s*(?:=|:)\s*)(?P<quote>[\"']?)(?P<value>[^\s\"',;&]+)"
)
# --name value / --name=value for option names that say secret
_OPTION = re.compile(r"(?P<lead>(?<![\w-])--?(?P<name>[A-Za-z][A-Za-z0-9_-]*)(?:=|\s+))(?P<quote>[\"']?)(?P<value>[^\s\"']+)")


def secret_name(name: str) -> bool:
    """Whether a variable or option name says it holds a secret (HF_TOKEN, DB_PW, api-key...)."""
    return bool(_SECRET_NAME.search(name))


def mask_url(url: str) -> str:
    """`https://user:p@ss@host/x` -> `https://***@host/x`; a token-only `https://ghp_x@host` too."""
    return _URL_USERINFO.sub(r"\g<scheme>" + MASK + "@", url)


def _mask_assignment(m: re.Match[str]) -> str:
    name, value = m.group("name"), m.group("value")
    if not secret_name(name) or value.endswith(MASK) or value.startswith("-"):
        return m.group(0)
    return m.group("lead") + m.group("quote") + MASK


def mask_secrets(text: str, values: Iterable[str] = ()) -> str:
    """Mask every secret shape synthcam knows, plus any exact `values` (e.g. tokens from env)."""
    if not text:
        return text
    for value in sorted({v for v in values if v and len(v) >= 4}, key=len, reverse=True):
        text = text.replace(value, MASK)
    text = mask_url(text)
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    text = _OPTION.sub(_mask_assignment, text)
    return _ASSIGNMENT.sub(_mask_assignment, text)


class Masker:
    """`mask_secrets` that also knows the values of secret-named variables of an environment."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self.values = tuple(sorted({v for k, v in (env or {}).items() if secret_name(k) and len(v) >= 6},
                                   key=len, reverse=True))

    def __call__(self, text: str) -> str:
        return mask_secrets(text, self.values)


def strip_userinfo(url: str) -> tuple[str, str | None, str | None]:
    """Split `scheme://user:pass@host/path` into the bare URL, the user and the password."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    return urlunsplit(parts._replace(netloc=hostport)), unquote(user) or None, unquote(password) or None


# CSI (ESC [ ... final), OSC (ESC ] ... BEL/ST), other 2-byte escapes, C1 controls, and C0
# controls except tab and newline.
_CONTROL = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"          # CSI: colours, cursor moves, clear screen
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC: titles, hyperlinks, clipboard (52)
    r"|\x1b[PX^_][^\x1b]*(?:\x1b\\)?"    # DCS, SOS, PM, APC strings
    r"|\x1b[@-Z\\-_]?"                  # other escapes (and a lone ESC)
    r"|[\x00-\x08\x0b-\x1f\x7f\x80-\x9f]"
)


def terminal_safe(text: str) -> str:
    """Untrusted text as plain characters: no escape sequences, no carriage-return overwrites."""
    return _CONTROL.sub("", str(text).replace("\r\n", "\n")).replace("\r", "")
