"""Identity fields sealed at rest: a patient's name and birth date, a family's
address and phone number, encrypted in the database with keys that never are.

- **Authenticated encryption**: AES-256-GCM (``cryptography``), a fresh 96-bit nonce
  per value, the column's name as associated data, so a sealed value copied into
  another column does not open. Stored as ``s1.<key id>.<base64url(nonce | ciphertext)>``.
- **Keys** come from the environment or a mounted secret (``IDENTITY_KEYS``:
  ``id:base64key`` pairs, the first is the one that seals; the others still open
  what they sealed), so a key is rotated without downtime: put the new key first,
  keep the old one after it, and the periodic ``reseal`` job re-encrypts the rows
  still sealed with an old key (or still in clear, from before sealing), a batch at
  a time. Once no row names the old key it can be dropped.
- **Search** by name goes through a keyed hash (HMAC-SHA256 with
  ``IDENTITY_SEARCH_KEY``, of the name folded: case, accents, spaces), kept in a
  column beside the sealed one: equal names give equal hashes, and the hash tells
  nothing without the key. It does not change when the sealing key rotates.

Columns declare it by type (``Sealed``, ``SealedDate``); the composition root of a
service that keeps identity installs the key ring (:func:`install`) before the
first query. A column type cannot be handed a dependency, hence this one module
global, set once.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import String, Text, literal, or_, select, type_coerce, update
from sqlalchemy.types import TypeDecorator

PREFIX = "s1"
NONCE_BYTES = 12


class SealingError(RuntimeError):
    """A sealed value that no key of the ring opens, or no key ring at all."""


@dataclass(frozen=True)
class KeyRing:
    """The sealing keys, the current first, and the search key."""

    keys: tuple[tuple[str, bytes], ...]
    search_key: bytes

    @classmethod
    def parse(cls, keys: str, search_key: str) -> KeyRing:
        """``keys``: ``id:base64key[,id:base64key...]`` (32-byte keys, the first seals);
        ``search_key``: base64 of at least 32 bytes. A clear error names what is wrong."""
        ring: list[tuple[str, bytes]] = []
        for i, part in enumerate(p.strip() for p in keys.split(",") if p.strip()):
            key_id, sep, encoded = part.partition(":")
            if not sep or not key_id.isalnum() or len(key_id) > 16:
                raise ValueError(f"IDENTITY_KEYS entry {i + 1}: expected id:base64key, the id 1-16 letters or digits")
            key = _b64(encoded, f"IDENTITY_KEYS entry {i + 1} ({key_id})")
            if len(key) != 32:
                raise ValueError(f"IDENTITY_KEYS entry {i + 1} ({key_id}): the key must be 32 bytes, not {len(key)}")
            if key_id in dict(ring):
                raise ValueError(f"IDENTITY_KEYS: the id {key_id} is given twice")
            ring.append((key_id, key))
        if not ring:
            raise ValueError("IDENTITY_KEYS is empty: at least one id:base64key")
        search = _b64(search_key, "IDENTITY_SEARCH_KEY")
        if len(search) < 32:
            raise ValueError("IDENTITY_SEARCH_KEY must be at least 32 bytes")
        return cls(tuple(ring), search)

    @staticmethod
    def new_key() -> str:
        """A fresh 32-byte key, base64url (for IDENTITY_KEYS or IDENTITY_SEARCH_KEY)."""
        return base64.urlsafe_b64encode(os.urandom(32)).decode()

    @property
    def current(self) -> str:
        return self.keys[0][0]

    def seal(self, plain: str, column: str) -> str:
        key_id, key = self.keys[0]
        nonce = os.urandom(NONCE_BYTES)
        sealed = AESGCM(key).encrypt(nonce, plain.encode(), column.encode())
        return f"{PREFIX}.{key_id}.{base64.urlsafe_b64encode(nonce + sealed).decode()}"

    def open(self, stored: str, column: str) -> str:
        if not is_sealed(stored):
            return stored  # written before sealing; the reseal job seals it
        _, key_id, body = stored.split(".", 2)
        key = dict(self.keys).get(key_id)
        if key is None:
            raise SealingError(f"{column}: sealed with key {key_id!r}, which IDENTITY_KEYS no longer holds")
        raw = base64.urlsafe_b64decode(body)
        try:
            return AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], column.encode()).decode()
        except InvalidTag:
            raise SealingError(f"{column}: a sealed value that key {key_id!r} does not open (altered, or "
                               "moved from another column)") from None

    def search_hash(self, name: str) -> str:
        """The keyed hash a name is found by: the same for names that differ only in
        case, accents or spacing."""
        return hmac.new(self.search_key, fold(name).encode(), hashlib.sha256).hexdigest()


def fold(name: str) -> str:
    decomposed = unicodedata.normalize("NFKD", name)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(plain.casefold().split())


def is_sealed(stored: str) -> bool:
    return stored.startswith(PREFIX + ".") and stored.count(".") >= 2


def sealed_with(stored: str | None) -> str | None:
    """The id of the key a stored value was sealed with (None: in clear, or no value)."""
    if stored is None or not is_sealed(stored):
        return None
    return stored.split(".", 2)[1]


def _b64(encoded: str, what: str) -> bytes:
    text = encoded.strip()
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise ValueError(f"{what}: not base64") from None


_ring: KeyRing | None = None


def install(ring: KeyRing) -> None:
    """The key ring every sealed column of this process uses (the composition root)."""
    global _ring
    _ring = ring


def from_settings(settings: Any) -> KeyRing | None:
    """The key ring ``IDENTITY_KEYS`` and ``IDENTITY_SEARCH_KEY`` give (None: not set)."""
    keys, search = getattr(settings, "identity_keys", None), getattr(settings, "identity_search_key", None)
    if keys is None and search is None:
        return None
    if keys is None or search is None:
        raise SealingError("set both IDENTITY_KEYS and IDENTITY_SEARCH_KEY (or neither)")
    try:
        return KeyRing.parse(keys.get_secret_value(), search.get_secret_value())
    except ValueError as exc:
        raise SealingError(str(exc)) from None


def install_from(settings: Any) -> bool:
    """Install the settings' key ring, if they give one; True if they did."""
    found = from_settings(settings)
    if found is not None:
        install(found)
    return found is not None


def ring() -> KeyRing:
    if _ring is None:
        raise SealingError("no identity key ring installed (IDENTITY_KEYS, IDENTITY_SEARCH_KEY)")
    return _ring


class Sealed(TypeDecorator[str]):
    """A text column stored sealed (as Text: the stored value is longer than the plain
    one, whose length the application bounds). ``column``: "table.column", the
    associated data that keeps a sealed value from opening in another column."""

    impl = Text
    cache_ok = True

    def __init__(self, column: str) -> None:
        super().__init__()
        self.column = column  # the associated data: "table.column"

    def process_bind_param(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else ring().seal(value, self.column)

    def process_result_value(self, value: str | None, dialect: Any) -> str | None:
        return None if value is None else ring().open(value, self.column)


class SealedDate(TypeDecorator[date]):
    """A date stored sealed (as its ISO text)."""

    impl = Text
    cache_ok = True

    def __init__(self, column: str) -> None:
        super().__init__()
        self.column = column

    def process_bind_param(self, value: date | None, dialect: Any) -> str | None:
        return None if value is None else ring().seal(value.isoformat(), self.column)

    def process_result_value(self, value: str | None, dialect: Any) -> date | None:
        return None if value is None else date.fromisoformat(ring().open(value, self.column)[:10])


SEARCH_HASH = String(64)
"""The column type of a keyed search hash (hex SHA-256)."""


# -- rotation ----------------------------------------------------------------------------------


async def reseal(unit_of_work: Callable[[], Any], tables: Sequence[Any], *, batch: int = 500) -> int:
    """Re-encrypt, with the current key, every sealed value of ``tables`` that an
    older key sealed or that is still in clear; a batch per short transaction.
    Returns how many rows were rewritten. Values are read and written as the stored
    text (``type_coerce``), so the column types neither open nor seal them again."""
    current = ring().current
    done = 0
    for table in tables:
        columns = [c for c in table.columns if isinstance(c.type, Sealed | SealedDate)]
        if not columns:
            continue
        key = list(table.primary_key.columns)
        stored = [type_coerce(c, Text) for c in columns]
        stale = or_(*(s.is_not(None) & ~s.startswith(f"{PREFIX}.{current}.") for s in stored))
        while True:
            async with unit_of_work() as uow:
                rows = (await uow.session.execute(select(*key, *stored).where(stale).limit(batch))).all()
                for row in rows:
                    ids, values = row[:len(key)], row[len(key):]
                    fresh = {c.name: literal(ring().seal(ring().open(v, c.type.column), c.type.column), Text)
                             for c, v in zip(columns, values, strict=True)
                             if v is not None and sealed_with(v) != current}
                    await uow.session.execute(
                        update(table).where(*(k == v for k, v in zip(key, ids, strict=True))).values(fresh))
                await uow.commit()
            done += len(rows)
            if len(rows) < batch:
                break
    return done
