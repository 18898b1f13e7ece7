"""A real Dovecot IMAP server for the tests and bench/ingest.py: started on a free port of
127.0.0.1 with a throw-away configuration, passwd-file and maildirs in a temporary directory,
and stopped (the directory removed) afterwards.

IMAP on loopback only: plain text (with STARTTLS) on `port`, TLS from the start on `tls_port`,
with a certificate for 127.0.0.1 from a throw-away CA (trustme; `ca_file` to trust it).
As root, Dovecot's own unprivileged users run the mail processes (root may not own mail); as
any other user, everything runs as that user.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from imapclient import IMAPClient

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
INSTALL_HINT = "Dovecot is missing: run ./scripts/ensure-dovecot.sh (apt-get install dovecot-imapd)"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Dovecot:
    def __init__(self) -> None:
        if not Path(DOVECOT).exists():
            raise RuntimeError(INSTALL_HINT)
        self.dir = Path(tempfile.mkdtemp(prefix="memorycrm-dovecot-"))
        self.dir.chmod(0o755)  # Dovecot's unprivileged processes read the passwd-file
        self.host = "127.0.0.1"
        self.port = 0
        self.tls_port = 0
        self.ca_file = self.dir / "ca.pem"
        self._certificate()
        self.process: subprocess.Popen | None = None
        self.passwd = self.dir / "passwd.d"
        self.passwd.mkdir()
        self.passwd.chmod(0o755)
        if os.getuid() == 0:
            self.mail_user = "dovecot"
            self.service_users = ""
        else:
            me = pwd.getpwuid(os.getuid()).pw_name
            self.mail_user = me
            self.service_users = (
                f"default_internal_user = {me}\ndefault_login_user = {me}\n"
                f"default_internal_group = {pwd.getpwuid(os.getuid()).pw_gid}\n"
            )
        (self.dir / "home").mkdir()
        if os.getuid() == 0:
            shutil.chown(self.dir / "home", self.mail_user, self.mail_user)
        (self.dir / "home").chmod(0o777)

    def _certificate(self) -> None:
        import trustme

        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        ca.cert_pem.write_to_path(str(self.ca_file))
        cert.private_key_pem.write_to_path(str(self.dir / "key.pem"))
        (self.dir / "cert.pem").write_bytes(b"".join(pem.bytes() for pem in cert.cert_chain_pems))

    def _config(self) -> str:
        return f"""
base_dir = {self.dir}/run
state_dir = {self.dir}/state
log_path = {self.dir}/dovecot.log
{self.service_users}
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{self.dir}/cert.pem
ssl_key = <{self.dir}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
mail_fsync = never
mail_location = maildir:{self.dir}/home/%u/Maildir
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.tls_port}
  }}
}}
service anvil {{
  chroot =
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.passwd}/%u
}}
userdb {{
  driver = static
  args = uid={self.mail_user} gid={self.mail_user} home={self.dir}/home/%u
}}
"""

    def start(self) -> Dovecot:
        for _ in range(5):  # a free port may be taken between choosing and binding it
            self.port, self.tls_port = _free_port(), _free_port()
            (self.dir / "dovecot.conf").write_text(self._config())
            self.process = subprocess.Popen(
                [DOVECOT, "-F", "-c", str(self.dir / "dovecot.conf")],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                start_new_session=True,
            )
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and self.process.poll() is None:
                try:
                    with socket.create_connection((self.host, self.port), timeout=1):
                        return self
                except OSError:
                    time.sleep(0.05)
            self.stop(remove=False)
        log = self.dir / "dovecot.log"
        raise RuntimeError(
            f"Dovecot did not start: {log.read_text()[-2000:] if log.exists() else ''}"
        )

    def stop(self, *, remove: bool = True) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        if remove:
            shutil.rmtree(self.dir, ignore_errors=True)

    def add_user(self, username: str | None = None, password: str | None = None) -> tuple[str, str]:
        """A fresh mail account (Dovecot rereads its passwd-file when it changes)."""
        username = username or f"u{uuid.uuid4().hex[:12]}"
        if not username.isalnum():
            raise ValueError("letters and digits only: the name is a file name")
        password = password or uuid.uuid4().hex
        # One passwd-file per account (the path has %u): a new account is a new file, which
        # Dovecot opens when it first sees the name (it rereads a changed file only lazily).
        (self.passwd / username).write_text(f"{username}:{{PLAIN}}{password}::::::\n")
        return username, password

    def client(self, username: str, password: str) -> IMAPClient:
        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=30)
        client.login(username, password)
        return client

    def append(self, username: str, password: str, messages: list[bytes], folder: str = "INBOX"):
        """Deliver messages into a folder (MULTIAPPEND, in chunks)."""
        with self.client(username, password) as client:
            for start in range(0, len(messages), 200):
                chunk = messages[start : start + 200]
                client.multiappend(folder, [{"msg": m} for m in chunk])
