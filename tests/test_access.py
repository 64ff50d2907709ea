"""Roles, grants and places (shared/access.py) and tokens (shared/tokens.py): no services."""

import asyncio
import time

import jwt
import pytest

from shared.access import Grant, InvalidGrant, Place, Principal, Role, parse_grants
from shared.tokens import Claims, TokenVerifier, Unauthenticated
from tests.platform import AUDIENCE, ISSUER, forged, other_key, signer

CLERK = Grant(Role.FRONT_DESK_CLERK, "s1.c1")
APPLICATION_AT_C1 = Place.of(street="s1", community="s1.c1", grid="s1.c1.g1", owner="u-res")


def test_a_grant_reads_and_writes_as_role_colon_scope():
    assert Grant.parse("front_desk_clerk:s1.c1") == CLERK
    assert str(CLERK) == "front_desk_clerk:s1.c1"
    assert Grant.parse("auditor") == Grant(Role.AUDITOR)


@pytest.mark.parametrize("text", ["front_desk_clerk", "auditor:s1", "resident:u1", "wizard",
                                  "street_office_staff:", ""])
def test_a_grant_without_its_scope_or_with_one_it_does_not_take_is_refused(text):
    with pytest.raises(InvalidGrant):
        Grant.parse(text)


def test_a_token_s_unknown_roles_are_left_out():
    assert parse_grants(["offline_access", "auditor", 7, "front_desk_clerk"]) == (
        Grant(Role.AUDITOR),)


def test_a_clerk_covers_their_community_only():
    clerk = Principal("u-clerk", grants=(CLERK,))
    assert clerk.covering({Role.FRONT_DESK_CLERK}, APPLICATION_AT_C1) == CLERK
    elsewhere = Place.of(street="s1", community="s1.c2")
    assert clerk.covering({Role.FRONT_DESK_CLERK}, elsewhere) is None
    # a grant of a role the endpoint does not name covers nothing there
    assert clerk.covering({Role.STREET_SERVICE_STAFF}, APPLICATION_AT_C1) is None


def test_street_staff_cover_every_community_of_their_street():
    staff = Principal("u-staff", grants=(Grant(Role.STREET_SERVICE_STAFF, "s1"),))
    assert staff.covering({Role.STREET_SERVICE_STAFF}, Place.of(street="s1", community="x"))
    assert not staff.covering({Role.STREET_SERVICE_STAFF}, Place.of(street="s2"))


def test_a_resident_covers_what_they_own():
    resident = Principal("u-res", grants=(Grant(Role.RESIDENT),))
    assert resident.covering({Role.RESIDENT}, APPLICATION_AT_C1)
    assert not resident.covering({Role.RESIDENT}, Place.of(community="s1.c1", owner="u-other"))
    assert resident.scopes({Role.RESIDENT}, "owner") == {"u-res"}


def test_district_wide_roles_cover_everything_and_filter_nothing():
    auditor = Principal("u-aud", grants=(Grant(Role.AUDITOR), CLERK))
    assert auditor.covering({Role.AUDITOR}, Place())
    assert auditor.scopes({Role.AUDITOR, Role.FRONT_DESK_CLERK}, "community") is None
    assert auditor.scopes({Role.FRONT_DESK_CLERK}, "community") == {"s1.c1"}
    assert auditor.scopes({Role.STREET_SERVICE_STAFF}, "street") == set()


def verifier(**overrides):
    return TokenVerifier(issuer=ISSUER, audience=AUDIENCE, jwks=signer().jwks(), **overrides)


async def test_a_valid_token_gives_its_user_name_and_grants():
    token = signer().issue("u-clerk", [CLERK, "not_a_role"], name="王秀英")
    principal = await verifier().verify(token)
    assert principal == Principal("u-clerk", "王秀英", (CLERK,))


@pytest.mark.parametrize("forge", ["expired", "other_key", "other_key_our_kid", "wrong_audience",
                                   "wrong_issuer", "unsigned", "garbage"])
async def test_a_token_that_is_not_valid_here_is_refused(forge):
    token = {
        "expired": lambda: signer().issue("u", ["auditor"], minutes=-1),
        "other_key": lambda: signer(key=other_key()).issue("u", ["auditor"]),
        "other_key_our_kid": lambda: forged("auditor"),
        "wrong_audience": lambda: signer(audience="elsewhere").issue("u", ["auditor"]),
        "wrong_issuer": lambda: signer(issuer="https://evil.test").issue("u", ["auditor"]),
        "unsigned": lambda: jwt.encode({"sub": "u", "roles": ["auditor"], "iss": ISSUER,
                                        "aud": AUDIENCE, "exp": time.time() + 60}, None,
                                       algorithm="none"),
        "garbage": lambda: "not.a.token",
    }[forge]()
    with pytest.raises(Unauthenticated):
        await verifier().verify(token)


async def test_claim_names_are_settings_so_an_external_provider_can_issue_tokens():
    token = signer().issue("ignored", [], preferred_username="li.wei",
                           realm_access={"roles": ["auditor", "offline_access"]})
    keycloak = verifier(claims=Claims(user="preferred_username", name="name",
                                      roles="realm_access.roles"))
    principal = await keycloak.verify(token)
    assert principal.user_id == "li.wei" and principal.grants == (Grant(Role.AUDITOR),)


async def test_a_token_verified_once_is_refused_again_once_it_expires():
    strict = verifier(leeway=0)
    token = signer().issue("u-clerk", [CLERK], minutes=1 / 60)  # lives one second
    assert (await strict.verify(token)).user_id == "u-clerk"
    assert (await strict.verify(token)).user_id == "u-clerk"  # from the verified cache
    await asyncio.sleep(1.6)
    with pytest.raises(Unauthenticated):
        await strict.verify(token)
