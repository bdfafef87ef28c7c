"""Secrets of the embedded default: taken from the environment, else generated once under the home, 0600.

Production sets every secret in the environment (from a KMS or a secret store); the local
default exists so `make demo` works on a fresh clone, and says so on stderr the first time
it generates one. Files and folders the product writes are private to the user (0600/0700).
"""

from __future__ import annotations

import os
import secrets
import sys
from pathlib import Path

SECRETS_DIR = "secrets"
_announced: set[str] = set()


def default_home() -> Path:
    """`$CLAIMFLOW_HOME`, else `.claimflow` in the project (as `assets.project.claimflow_home`; connectors import nothing of ours)."""
    return Path(os.environ.get("CLAIMFLOW_HOME") or Path(__file__).resolve().parents[1] / ".claimflow").resolve()


def home_near(path: Path) -> Path:
    """The home whose secrets protect a store at `path`: `$CLAIMFLOW_HOME`, else the folder holding the store
    (the default layout puts the warehouse and the attachments folder directly in the home)."""
    return default_home() if os.environ.get("CLAIMFLOW_HOME") else Path(path).resolve().parent


def private_dir(path: Path) -> Path:
    """Create `path` (and missing parents) as 0700; tighten it if it already exists."""
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(path, 0o700)
    return path


def write_private(path: Path, data: bytes) -> None:
    """Write `data` to a new file only the user can read (0600 from the first byte, not chmod after)."""
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    os.replace(tmp, path)


def local_secret(env_name: str, filename: str, generate, home: Path | None = None) -> bytes:
    """The secret in `env_name`; else the one in `<home>/secrets/<filename>`, generated (0600) the first time."""
    value = os.environ.get(env_name, "").strip()
    if value:
        return value.encode()
    path = (home or default_home()) / SECRETS_DIR / filename
    if not path.exists():
        private_dir(path.parent)
        tmp = path.with_name(f".{filename}.{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(generate())
        try:
            os.link(tmp, path)  # atomic and exclusive: a concurrent first run keeps one key
        except FileExistsError:
            pass
        else:
            if str(path) not in _announced:
                _announced.add(str(path))
                print(f"claimflow: {env_name} is not set; generated a LOCAL key at {path} (0600). "
                      f"Set {env_name} from your secret store in production.", file=sys.stderr)
        finally:
            tmp.unlink(missing_ok=True)
    return path.read_bytes().strip()


def new_hex_key() -> bytes:
    return secrets.token_hex(32).encode()


def secure_tree(root: Path) -> int:
    """Tighten an existing home: folders 0700, files 0600 (a home made before this rule, or by another tool).

    Returns how many entries were changed. Symlinks are left alone (never followed).
    """
    changed = 0
    if not root.exists():
        return 0
    for dirpath, dirnames, filenames in os.walk(root):
        for name, mode in [(dirpath, 0o700)] + [(os.path.join(dirpath, f), 0o600) for f in filenames]:
            try:
                st = os.lstat(name)
            except FileNotFoundError:
                continue
            if os.path.islink(name):
                continue
            if st.st_mode & 0o777 != mode and not (mode == 0o600 and st.st_mode & 0o100):
                os.chmod(name, mode)
                changed += 1
            elif mode == 0o600 and st.st_mode & 0o077:  # an executable file stays executable, for the user only
                os.chmod(name, st.st_mode & 0o700)
                changed += 1
    return changed
