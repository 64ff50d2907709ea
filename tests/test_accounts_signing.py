"""Where the accounts service's signing key comes from: configured, or in development made
once (owner-only) in the data directory; production refuses to start without one."""

import stat

import pytest

from services.accounts.signing import NoSigningKey, signer_from
from shared.settings import Settings
from tests.platform import private_key


def test_development_without_a_key_makes_one_once_readable_by_its_owner_only(tmp_path):
    settings = Settings(JIEDAO_DATA_DIR=str(tmp_path))
    first = signer_from(settings)
    path = tmp_path / "auth" / "signing-key.pem"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert signer_from(settings).kid == first.kid  # the same key at the next start


def test_a_configured_key_file_is_used(tmp_path):
    key_file = tmp_path / "key.pem"
    key_file.write_text(private_key())
    signer = signer_from(Settings(JIEDAO_DATA_DIR=str(tmp_path),
                                  JIEDAO_AUTH_PRIVATE_KEY_FILE=str(key_file),
                                  JIEDAO_AUTH_TOKEN_MINUTES=5))
    assert signer.minutes == 5
    assert not (tmp_path / "auth").exists()


def test_production_refuses_to_start_without_a_configured_key(tmp_path):
    settings = Settings(JIEDAO_ENV="production", JIEDAO_DATA_DIR=str(tmp_path),
                        DATABASE_URL="postgresql://db/jiedao", KAFKA_BOOTSTRAP_SERVERS="k:9092",
                        JIEDAO_DEMO_API_KEY="another", JIEDAO_AUTH_JWKS='{"keys": []}',
                        JIEDAO_AUTH_ISSUER="https://accounts.district.example",
                        JIEDAO_AUTH_TOKEN_URL="https://accounts.district.example/auth/token")
    with pytest.raises(NoSigningKey, match="JIEDAO_AUTH_PRIVATE_KEY_FILE"):
        signer_from(settings)
    assert not (tmp_path / "auth").exists()
