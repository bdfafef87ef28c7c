"""Encryption at rest for personal data: mail bodies and attachments, with Fernet (AES-128-CBC + HMAC-SHA256).

The key comes from `CLAIMFLOW_DATA_KEY` (a urlsafe-base64 Fernet key; in production from the
secret store or KMS). Locally, without it, a key is generated once under
`$CLAIMFLOW_HOME/secrets/data.key` (0600) and the first run says so.

Rotation: put the new key first and keep the old ones after it,
`CLAIMFLOW_DATA_KEY=<new>,<old>`. Everything is then written with the new key and read
with any of them (`MultiFernet`); `claimflow privacy rotate` re-encrypts what is stored
under the new key, after which the old key can be dropped.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from connectors.secrets import default_home, home_near, local_secret

KEY_ENV = "CLAIMFLOW_DATA_KEY"
KEY_FILE = "data.key"
TEXT_PREFIX = "fernet:"
_TOKEN_PREFIX = b"gAAAAA"  # every Fernet token (version byte 0x80) starts so in base64


class VaultError(RuntimeError):
    """Stored data cannot be decrypted with the configured keys."""


class DataVault:
    """Encrypts and decrypts bytes and text with the configured keys (newest first)."""

    def __init__(self, keys: list[bytes]):
        if not keys:
            raise ValueError("at least one data key is needed")
        self._fernet = MultiFernet([Fernet(k) for k in keys])

    @classmethod
    def from_env(cls, home: Path | None = None) -> DataVault:
        raw = local_secret(KEY_ENV, KEY_FILE, Fernet.generate_key, home=home or default_home())
        return cls([k.strip().encode() for k in raw.decode().split(",") if k.strip()])

    def encrypt(self, data: bytes) -> bytes:
        return self._fernet.encrypt(data)

    def decrypt(self, token: bytes) -> bytes:
        """The clear bytes; data stored before encryption was switched on is returned as it is."""
        if not token.startswith(_TOKEN_PREFIX):
            return token
        try:
            return self._fernet.decrypt(token)
        except InvalidToken:
            raise VaultError("stored data does not decrypt with CLAIMFLOW_DATA_KEY (a key was dropped too early?)") from None

    def rotate(self, token: bytes) -> bytes:
        """`token` re-encrypted under the newest key."""
        return self._fernet.rotate(token) if token.startswith(_TOKEN_PREFIX) else self.encrypt(token)

    def seal_text(self, text: str | None) -> str | None:
        return None if text is None else TEXT_PREFIX + self.encrypt(text.encode("utf-8")).decode("ascii")

    def open_text(self, value: str | None) -> str | None:
        if value is None or not str(value).startswith(TEXT_PREFIX):
            return value
        return self.decrypt(str(value)[len(TEXT_PREFIX):].encode("ascii")).decode("utf-8")


_vaults: dict[str, DataVault] = {}


def vault(home: Path | None = None) -> DataVault:
    """The process's vault for `home` (the key is read once per home and key setting)."""
    home = home or default_home()
    cache_key = f"{home}|{os.environ.get(KEY_ENV, '')}"
    if cache_key not in _vaults:
        _vaults[cache_key] = DataVault.from_env(home)
    return _vaults[cache_key]


def open_text(value: str | None, store: Path | None = None) -> str | None:
    """A stored text field in clear (sealed or not), with the vault of the store at `store` (default: the home's)."""
    if value is None or not str(value).startswith(TEXT_PREFIX):
        return value
    return vault(home_near(store) if store is not None else None).open_text(value)
