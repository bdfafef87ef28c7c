"""A real Dovecot IMAP server for tests: its own config dir, a free loopback port, stopped by PID.

Debian's `dovecot-imapd` (installed by `.ci/run`). Plain-text login without TLS is allowed on loopback
only; mail is Maildir under a temp dir, one user whose password is in a passwd-file.
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from .postgres import free_port

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"

CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:{root}/mail/%u
first_valid_uid = 0
{users_block}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={root}/mail/%u
}}
namespace inbox {{
  inbox = yes
  separator = /
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
protocol imap {{
  imap_idle_notify_interval = 1 secs
}}
"""


@dataclass
class DovecotServer:
    host: str
    port: int
    user: str
    password: str
    root: Path
    proc: subprocess.Popen

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)  # the master stops its children
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):  # stray login/imap children of the group
            os.killpg(self.proc.pid, signal.SIGKILL)
        shutil.rmtree(self.root, ignore_errors=True)


def start_dovecot(user: str = "claims", password: str = "s3cret-test", timeout: float = 30) -> DovecotServer:
    """Write a config under a fresh temp dir, start `dovecot -F` and wait for its IMAP greeting."""
    if not Path(DOVECOT).exists():
        raise FileNotFoundError("dovecot is not installed: apt-get install dovecot-imapd (.ci/run does)")
    root = Path(tempfile.mkdtemp(prefix="claimflow-imap-"))
    os.chmod(root, 0o755)
    for sub in ("run", "state", "mail"):
        (root / sub).mkdir()
    me = pwd.getpwuid(os.getuid())
    if os.getuid() == 0:
        # As root Dovecot drops privileges to its own accounts; mail belongs to an unprivileged user.
        mail_user = pwd.getpwnam("dovecot") if _exists("dovecot") else pwd.getpwnam("nobody")
        os.chown(root / "mail", mail_user.pw_uid, mail_user.pw_gid)
        uid, gid, users_block = mail_user.pw_uid, mail_user.pw_gid, ""
    else:
        # Unprivileged: every Dovecot service runs as us.
        uid, gid = me.pw_uid, me.pw_gid
        users_block = (
            f"default_login_user = {me.pw_name}\ndefault_internal_user = {me.pw_name}\n"
            f"default_internal_group = {pwd.getpwuid(os.getuid()).pw_name}\n"
        )
    (root / "users").write_text(f"{user}:{{PLAIN}}{password}::::::\n")
    # Dovecot's unprivileged auth worker reads the users file whatever the caller's umask (claimflow sets 077).
    os.chmod(root / "users", 0o644)
    for sub in ("run", "state"):
        os.chmod(root / sub, 0o755)
    port = free_port()
    conf = root / "dovecot.conf"
    conf.write_text(CONFIG.format(root=root, port=port, uid=uid, gid=gid, users_block=users_block))
    proc = subprocess.Popen(
        [DOVECOT, "-F", "-c", str(conf)], stdout=open(root / "stdout.log", "ab"),  # noqa: SIM115
        stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    server = DovecotServer("127.0.0.1", port, user, password, root, proc)
    deadline = time.monotonic() + timeout
    while True:
        if proc.poll() is not None:
            logs = "".join(p.read_text(errors="replace") for p in root.glob("*.log"))
            server.stop()
            raise RuntimeError(f"dovecot exited with {proc.returncode}: {logs[-2000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            if s.recv(200).startswith(b"* OK"):
                return server
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"dovecot not answering on {port} after {timeout:.0f} s")
        time.sleep(0.1)


def _exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False
