"""Optional bearer-token auth: ``Authorization: Bearer <key>``, compared in constant time.

Keys come from a file (one a line; blank lines and ``#`` comments skipped) or from
``J9330_RULES_API_KEYS`` (separated by commas or whitespace). With no keys the service is open,
which is why it binds 127.0.0.1 by default. Keys are never logged.
"""

from __future__ import annotations

import hmac
import os
import re
from pathlib import Path

from j9330_rules.errors import ConfigError
from j9330_rules.service.settings import KEYS_ENV

_SPLIT = re.compile(r"[\s,]+")
#: The shortest key accepted: a guessable token is no protection.
MIN_KEY_LENGTH = 16


def load_keys(keys_file: str | Path | None, environ: dict[str, str] | None = None) -> tuple[bytes, ...]:
    environ = os.environ if environ is None else environ
    keys: list[str] = []
    if keys_file is not None:
        try:
            text = Path(keys_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{keys_file}: the API keys file cannot be read ({type(exc).__name__})") from None
        for line in text.splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                keys.append(line)
    keys += [key for key in _SPLIT.split(environ.get(KEYS_ENV, "")) if key]
    for position, key in enumerate(keys, start=1):
        if len(key) < MIN_KEY_LENGTH or not key.isascii() or not key.isprintable():
            raise ConfigError(f"API key {position} is shorter than {MIN_KEY_LENGTH} characters or not printable ASCII")
    return tuple(dict.fromkeys(key.encode("ascii") for key in keys))


class BearerAuth:
    """Is a request's ``Authorization`` header one of the keys? Every key is compared, each in
    constant time (``hmac.compare_digest``), so the time taken says nothing about which key or
    how much of one matched."""

    def __init__(self, keys: tuple[bytes, ...]):
        self.keys = keys

    @property
    def enabled(self) -> bool:
        return bool(self.keys)

    def allows(self, header: bytes | None) -> bool:
        if not self.keys:
            return True
        scheme, _, token = (header or b"").partition(b" ")
        if scheme.lower() != b"bearer":
            token = b""
        token = token.strip()
        matched = False
        for key in self.keys:
            matched |= hmac.compare_digest(token, key)
        return matched
