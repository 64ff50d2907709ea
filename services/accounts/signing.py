"""The accounts service's token signer: its RSA key from JIEDAO_AUTH_PRIVATE_KEY_FILE; in
development, if none is configured, one generated once into <data dir>/auth/signing-key.pem
(readable by its owner only). Production refuses to start without a configured key."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from shared.settings import Settings
from shared.tokens import TokenSigner, generate_private_key


class NoSigningKey(RuntimeError):
    pass


def signer_from(settings: Settings) -> TokenSigner:
    return TokenSigner(signing_key_file(settings).read_text(), issuer=settings.auth_issuer,
                       audience=settings.auth_audience, minutes=settings.auth_token_minutes)


def signing_key_file(settings: Settings) -> Path:
    if settings.auth_private_key_file is not None:
        return settings.auth_private_key_file
    if settings.environment == "production":
        raise NoSigningKey("production needs the accounts service's signing key: set "
                           "JIEDAO_AUTH_PRIVATE_KEY_FILE (a PEM RSA private key)")
    path = settings.data_dir / "auth" / "signing-key.pem"
    if not path.exists():
        _write_once(path, generate_private_key())
    return path


def _write_once(path: Path, text: str) -> None:
    """Write `path` (mode 0600) unless another process did first: the first key stays."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".signing-key-")  # 0600
    try:
        with os.fdopen(fd, "w") as file:
            file.write(text)
        with contextlib.suppress(FileExistsError):
            os.link(temporary, path)  # atomic, and never over a key already there
    finally:
        os.unlink(temporary)
