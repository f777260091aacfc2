"""API keys: who may submit, read, delete, or see the server's internals.

A key is a random token (``va_...``) shown once when created; the service keeps only its SHA-256
(a random 256-bit token needs no slow hash) with a name and scopes, as ``VA_API_KEYS`` entries
``name:scope+scope:sha256hex``. A request presents it as ``X-API-Key: <key>`` or
``Authorization: Bearer <key>``. Every route but ``/``, ``/health`` and ``/health/ready`` needs
a key with the route's scope. With no key configured (only allowed outside production) the API
is open, and says so in its log at start.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

#: submit: upload. read: status, results, events, reports, model status. delete: erase a
#: video's data. admin: metrics and the server's internals (paths, hosts, PIDs).
SCOPES: tuple[str, ...] = ("submit", "read", "delete", "admin")
_HEX64 = re.compile(r"[0-9a-f]{64}")
_NAME = re.compile(r"[A-Za-z0-9._-]{1,64}")


@dataclass(frozen=True)
class ApiKey:
    name: str
    scopes: frozenset[str]
    digest: str

    @property
    def entry(self) -> str:
        """The ``VA_API_KEYS`` entry for this key."""
        ordered = [scope for scope in SCOPES if scope in self.scopes]
        return f"{self.name}:{'+'.join(ordered)}:{self.digest}"


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def parse_entry(entry: str) -> ApiKey:
    """``name:scope+scope:sha256hex`` as an ``ApiKey``; ``ValueError`` saying what is wrong."""
    parts = entry.strip().split(":")
    if len(parts) != 3:
        raise ValueError(f"an API key entry is name:scope+scope:sha256hex, not {entry[:20]!r}...")
    name, scopes_text, digest = parts
    if not _NAME.fullmatch(name):
        raise ValueError(f"API key name {name!r} must be 1-64 of A-Z a-z 0-9 . _ -")
    scopes = frozenset(s for s in scopes_text.split("+") if s)
    unknown = scopes - set(SCOPES)
    if not scopes or unknown:
        raise ValueError(
            f"API key {name!r}: scopes must be some of {', '.join(SCOPES)}, not {scopes_text!r}"
        )
    if not _HEX64.fullmatch(digest.lower()):
        raise ValueError(f"API key {name!r}: the third field must be the key's SHA-256 in hex")
    return ApiKey(name=name, scopes=scopes, digest=digest.lower())


def new_key(name: str, scopes: list[str] | tuple[str, ...]) -> tuple[str, ApiKey]:
    """A fresh random key and its entry; the key itself is shown once and never stored."""
    key = "va_" + secrets.token_urlsafe(32)
    api_key = parse_entry(f"{name}:{'+'.join(scopes)}:{hash_key(key)}")
    return key, api_key


class KeyRing:
    """The configured keys; ``open`` when there are none."""

    def __init__(self, entries: list[str]) -> None:
        self.keys = [parse_entry(entry) for entry in entries]

    @property
    def open(self) -> bool:
        return not self.keys

    def identify(self, presented: str | None) -> ApiKey | None:
        """The key ``presented`` is, or None. Compares digests in constant time."""
        if not presented:
            return None
        digest = hash_key(presented)
        found = None
        for key in self.keys:
            if hmac.compare_digest(key.digest, digest):
                found = key
        return found
