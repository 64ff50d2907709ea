"""The accounts domain, pure: users, grants, disabling, API keys; no I/O."""

import pytest
from pydantic import ValidationError

from services.accounts.commands import GrantRole, RegisterUser, RevokeRole
from services.accounts.domain import AlreadyExists, ApiKey, User
from services.accounts.events import (
    ApiKeyIssued,
    ApiKeyRevoked,
    PasswordReset,
    RoleGranted,
    RoleRevoked,
    UserDisabled,
    UserEnabled,
    UserRegistered,
)
from services.accounts.passwords import (
    api_key_hash,
    hash_password,
    new_api_key,
    verify_password,
)
from shared.access import Place
from shared.errors import DomainError, NotFound

PASSWORD = "correct horse battery"


def registered(*grants: str) -> User:
    user = User("clerk-1")
    for event in user.register(RegisterUser(username="clerk-1", name="王芳", password=PASSWORD,
                                            grants=list(grants)), "HASH"):
        user.apply(event)
    return user


def test_registering_emits_the_user_with_its_credential_and_each_grant_once():
    events = User("clerk-1").register(
        RegisterUser(username="clerk-1", name="王芳", password=PASSWORD,
                     grants=["front_desk_clerk:s1.c1", "front_desk_clerk:s1.c1", "auditor"]),
        "HASH")
    assert events == [UserRegistered(username="clerk-1", name="王芳", credential_id="HASH"),
                      RoleGranted(username="clerk-1", grant="front_desk_clerk:s1.c1"),
                      RoleGranted(username="clerk-1", grant="auditor")]


def test_a_taken_username_is_refused_with_409():
    with pytest.raises(AlreadyExists) as refused:
        registered().register(RegisterUser(username="clerk-1", name="x", password=PASSWORD),
                              "HASH2")
    assert refused.value.status == 409 and refused.value.field == "username"


@pytest.mark.parametrize("grant", ["front_desk_clerk", "auditor:s1", "nobody", "resident:me"])
def test_a_grant_naming_no_role_or_the_wrong_scope_is_refused_naming_the_field(grant):
    with pytest.raises(DomainError) as refused:
        registered().grant(GrantRole(grant=grant))
    assert refused.value.status == 422 and refused.value.field == "grant"
    with pytest.raises(DomainError) as at_registration:
        User("u2").register(RegisterUser(username="u2", name="x", password=PASSWORD,
                                         grants=["auditor", grant]), "HASH")
    assert at_registration.value.field == "grants.1"


def test_granting_a_held_grant_changes_nothing_and_revoking_removes_it():
    user = registered("front_desk_clerk:s1.c1")
    assert user.grant(GrantRole(grant="front_desk_clerk:s1.c1")) == []
    events = user.revoke(RevokeRole(username="clerk-1", grant="front_desk_clerk:s1.c1"))
    assert events == [RoleRevoked(username="clerk-1", grant="front_desk_clerk:s1.c1")]
    user.apply(events[0])
    assert user.grants == []
    with pytest.raises(NotFound):
        user.revoke(RevokeRole(username="clerk-1", grant="front_desk_clerk:s1.c1"))


def test_a_disabled_user_may_not_sign_in_until_enabled():
    user = registered()
    assert user.may_sign_in()
    [disabled] = user.set_disabled(True)
    assert disabled == UserDisabled(username="clerk-1")
    user.apply(disabled)
    assert not user.may_sign_in() and user.set_disabled(True) == []
    [enabled] = user.set_disabled(False)
    assert enabled == UserEnabled(username="clerk-1")
    user.apply(enabled)
    assert user.may_sign_in()


def test_a_password_reset_replaces_the_credential():
    user = registered()
    [reset] = user.reset_password("NEW")
    assert reset == PasswordReset(username="clerk-1", credential_id="NEW")
    user.apply(reset)
    assert user.credential_id == "NEW"


def test_steps_on_an_unknown_user_are_404():
    for step in (lambda u: u.grant(GrantRole(grant="auditor")), lambda u: u.set_disabled(True),
                 lambda u: u.reset_password("H")):
        with pytest.raises(NotFound):
            step(User("nobody"))
    assert not User("nobody").may_sign_in()


def test_a_password_under_12_characters_is_refused_by_the_command():
    with pytest.raises(ValidationError) as refused:
        RegisterUser(username="clerk-1", name="王芳", password="short-pass1")
    assert refused.value.errors()[0]["loc"] == ("password",)


def test_users_and_api_keys_are_the_district_s():
    assert registered().place() == Place() and ApiKey("k").place() == Place()


def test_an_api_key_is_issued_once_and_revoked_once():
    key = ApiKey("k1")
    [issued] = key.issue("城市管家", "abc")
    assert issued == ApiKeyIssued(key_id="k1", client_name="城市管家", key_hash="abc")
    key.apply(issued)
    with pytest.raises(AlreadyExists):
        key.issue("again", "def")
    [revoked] = key.revoke()
    assert revoked == ApiKeyRevoked(key_id="k1")
    key.apply(revoked)
    assert key.revoke() == []
    with pytest.raises(NotFound):
        ApiKey("nope").revoke()


def test_a_new_api_key_is_random_and_only_its_sha256_is_kept():
    (key, digest), (other, _) = new_api_key(), new_api_key()
    assert key.startswith("jd_") and key != other and len(key) > 40
    assert digest == api_key_hash(key) and len(digest) == 64 and key not in digest


def test_passwords_verify_against_their_argon2_hash_and_unknown_users_fail():
    hashed = hash_password(PASSWORD)
    assert hashed.startswith("$argon2id$") and PASSWORD not in hashed
    assert verify_password(PASSWORD, hashed)
    assert not verify_password("wrong password!", hashed)
    assert not verify_password(PASSWORD, None)


def test_an_unknown_user_s_password_is_still_checked_against_a_hash(monkeypatch):
    from services.accounts import passwords

    checked = []
    real = passwords._hasher()

    class Spy:
        def hash(self, password):
            return real.hash(password)

        def verify(self, password, password_hash):
            checked.append(password_hash)
            return real.verify(password, password_hash)

    monkeypatch.setattr(passwords, "_hasher", lambda: Spy())
    passwords._dummy_hash.cache_clear()
    assert not verify_password(PASSWORD, None)
    assert len(checked) == 1 and checked[0].startswith("$argon2id$")
