"""API keys and their roles: who may decide, report conversions, read, or administer.

Keys are kept as SHA-256 digests only, compared in constant time against every known
digest (no early exit, so timing does not tell which keys exist). A keys file is re-read
when it changes, so keys rotate without a restart.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import os
import threading
import time
from enum import StrEnum
from pathlib import Path


class Role(StrEnum):
    traffic = "traffic"
    """/sample/: traffic partners' click routers."""
    postback = "postback"
    """/feedback/ and postbacks: advertisers and trackers."""
    read = "read"
    """Statistics, registry reads, dashboard, metrics."""
    admin = "admin"
    """Registry changes, reset; implies every other role."""


MIN_KEY_LENGTH = 16

FILE_CHECK_S = 1.0
"""How often the keys file's modification is checked, at most."""


def is_loopback(host: str | None) -> bool:
    """Whether a host or client address is this machine's loopback (a name other than
    ``localhost``, or ``0.0.0.0``, counts as public)."""
    if host == "localhost":
        return True
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def parse_keys(text: str, origin: str = "CPA_BANDIT_KEYS") -> list[tuple[Role, str]]:
    """``role=key`` entries separated by commas or new lines; ``#`` starts a comment."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        for entry in line.split("#", 1)[0].split(","):
            if not (entry := entry.strip()):
                continue
            role, sep, key = (part.strip() for part in entry.partition("="))
            if not sep or not key or role not in Role.__members__:
                roles = ", ".join(Role.__members__)
                raise ValueError(f"{origin} line {number}: expected role=key with role one of {roles}")
            found.append((Role(role), checked_key(key, f"{origin} line {number}: the {role} key")))
    return found


def checked_key(key: str, what: str) -> str:
    """One rule for every key, wherever it is configured: a short key is guessable, and one
    with spaces or commas would not survive the ``role=key,…`` syntax or an HTTP header."""
    if len(key) < MIN_KEY_LENGTH:
        raise ValueError(f"{what} has {len(key)} characters; keys must have at least {MIN_KEY_LENGTH}")
    if not key.isprintable() or any(c.isspace() or c in ",#" for c in key):
        raise ValueError(f"{what} holds a space, a comma, a '#' or an unprintable character")
    return key


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode()).digest()


class KeyRing:
    def __init__(self, entries: list[tuple[Role, str]] = (), path: Path | None = None) -> None:
        self._fixed = [(_digest(key), role) for role, key in entries]
        self._path = path
        self._from_file: list[tuple[bytes, Role]] = []
        self._file_state: tuple[int, int] | None = None
        self._checked = 0.0
        self._lock = threading.Lock()
        if path is not None:
            self._reload()  # a bad file stops start-up rather than serving without its keys

    @property
    def configured(self) -> bool:
        self._maybe_reload()
        return bool(self._fixed or self._from_file)

    def has_key_for(self, role: Role) -> bool:
        """Whether a key of exactly this role (or an admin key, for the admin role) exists."""
        self._maybe_reload()
        return any(known is role for _, known in self._fixed + self._from_file)

    def roles_of(self, key: str) -> set[Role]:
        """The roles of a key (admin implying all); empty for an unknown key."""
        self._maybe_reload()
        digest = _digest(key)
        roles: set[Role] = set()
        for known, role in self._fixed + self._from_file:
            if hmac.compare_digest(known, digest):
                roles.add(role)
        return set(Role) if Role.admin in roles else roles

    def _maybe_reload(self) -> None:
        if self._path is None or time.monotonic() - self._checked < FILE_CHECK_S:
            return
        with self._lock:
            self._checked = time.monotonic()
            try:
                stat = os.stat(self._path)
            except OSError:
                return  # keep the last good keys while the file is being replaced
            if (stat.st_mtime_ns, stat.st_size) != self._file_state:
                try:
                    self._reload()
                except (OSError, ValueError):
                    return  # a half-written or broken file: keep the last good keys

    def _reload(self) -> None:
        assert self._path is not None
        stat = os.stat(self._path)
        entries = parse_keys(self._path.read_text(), origin=str(self._path))
        self._from_file = [(_digest(key), role) for role, key in entries]
        self._file_state = (stat.st_mtime_ns, stat.st_size)
        self._checked = time.monotonic()
