"""Content-addressed attachment store: every file kept once, under its sha256, encrypted at rest.

Files are named by the sha256 of the clear bytes (so duplicates are found without decrypting)
and hold a Fernet token (`connectors/vault.py`); folders are 0700, files 0600.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

from connectors.secrets import home_near
from connectors.vault import DataVault, vault


class AttachmentStore:
    """Files under `root/ab/abcdef...`; writing the same bytes twice is a no-op."""

    def __init__(self, root: Path | str, data_vault: DataVault | None = None):
        self.root = Path(root)
        self._vault = data_vault

    @property
    def vault(self) -> DataVault:
        if self._vault is None:
            self._vault = vault(home_near(self.root))
        return self._vault

    def path_for(self, sha256: str) -> Path:
        return self.root / sha256[:2] / sha256

    def put(self, data: bytes, sha256: str | None = None) -> str:
        sha256 = sha256 or hashlib.sha256(data).hexdigest()
        target = self.path_for(sha256)
        if target.exists():
            return sha256
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")  # 0600
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(self.vault.encrypt(data))
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return sha256

    def get(self, sha256: str) -> bytes:
        return self.vault.decrypt(self.path_for(sha256).read_bytes())

    def delete(self, sha256: str) -> bool:
        """Remove a file (erasure); True when it was there."""
        try:
            self.path_for(sha256).unlink()
        except FileNotFoundError:
            return False
        return True

    def exists(self, sha256: str) -> bool:
        return self.path_for(sha256).exists()
