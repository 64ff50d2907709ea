"""The accounts service end to end: the administrator registers users and grants roles
through its API, users sign in at /auth/token, and the token is honoured by another service
(grid), whose events record that user. Real PostgreSQL, real broker, workers in their own
processes."""

import asyncio
import os
import subprocess
import sys

import jwt
import pytest
from aiokafka import AIOKafkaConsumer

from services.accounts.bootstrap import ensure_admin
from tests.platform import AUDIENCE, ISSUER, ROOT, running

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
async def platform(database_url, kafka_bootstrap, tmp_path_factory):
    async with running(["grid", "accounts"], database_url, kafka_bootstrap,
                       tmp_path_factory.mktemp("jiedao"),
                       # 10 sign-ins per username, then one more every 6 minutes: a slow
                       # machine's guesses cannot earn a refill within a test
                       env={"JIEDAO_CORS_ORIGINS": GRID_DOCS,
                            "JIEDAO_SIGN_IN_RATE_LIMIT": "10/hour"}) as platform:
        yield platform


GRID_DOCS = "http://127.0.0.1:8100"  # grid's /docs, signing in at the accounts service


@pytest.fixture
def admin(platform):
    return platform.as_("accounts", "administrator", user="admin")


async def register(admin, username, *grants, password=PASSWORD):
    response = await admin.post("/users", json={"username": username, "name": "王芳",
                                                "password": password, "grants": list(grants)})
    assert response.status_code == 201, response.text
    return response.json()


async def sign_in(platform, username, password=PASSWORD):
    return await platform["accounts"].post("/auth/token", data={
        "grant_type": "password", "username": username, "password": password})


async def token_of(platform, username, password=PASSWORD) -> str:
    response = await sign_in(platform, username, password)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def claims(token: str) -> dict:
    return jwt.decode(token, options={"verify_signature": False})


async def test_a_user_made_by_the_administrator_signs_in_and_acts_in_grid_as_themselves(
        admin, platform):
    await register(admin, "civil-1")
    granted = await admin.post("/users/civil-1/grants", json={"grant": "civil_affairs"})
    assert granted.status_code == 200, granted.text
    answer = await sign_in(platform, "civil-1")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token_type"] == "bearer" and body["expires_in"] == 15 * 60
    assert answer.headers["cache-control"] == "no-store"
    street = {"street_id": "acct1", "name_zh": "测试街道", "name_en": "Test", "kind": "urban",
              "sourced": False}
    registered = await platform["grid"].post(
        "/streets", json=street, headers={"Authorization": f"Bearer {body['access_token']}"})
    assert registered.status_code == 201, registered.text
    [event] = await platform.apps["grid"].state.store.read_stream("street-acct1")
    assert (event.actor.user_id, event.actor.role) == ("civil-1", "civil_affairs")


async def test_the_token_names_the_user_and_carries_their_grants(admin, platform):
    await register(admin, "clerk-1", "front_desk_clerk:s1.c1", "auditor")
    token = claims(await token_of(platform, "clerk-1"))
    assert (token["sub"], token["name"]) == ("clerk-1", "王芳")
    assert token["roles"] == ["front_desk_clerk:s1.c1", "auditor"]
    assert (token["iss"], token["aud"]) == (ISSUER, AUDIENCE)
    assert token["exp"] - token["iat"] == 15 * 60


@pytest.mark.parametrize("username, password", [
    ("wrong-pass", "not the right password"), ("no-such-user", PASSWORD)])
async def test_a_wrong_password_or_an_unknown_user_is_invalid_grant(admin, platform, username,
                                                                    password):
    if username == "wrong-pass":
        await register(admin, username)
    refused = await sign_in(platform, username, password)
    assert refused.status_code == 400
    assert refused.json() == {"error": "invalid_grant",
                              "error_description": "the username or password is wrong"}


async def test_a_disabled_user_cannot_sign_in_until_enabled_again(admin, platform):
    await register(admin, "leaver")
    assert (await admin.post("/users/leaver/disable")).status_code == 200
    refused = await sign_in(platform, "leaver")
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    assert (await admin.post("/users/leaver/enable")).status_code == 200
    assert (await sign_in(platform, "leaver")).status_code == 200


async def test_a_revoked_grant_is_missing_from_the_next_token(admin, platform):
    await register(admin, "mover", "front_desk_clerk:s1.c1", "front_desk_clerk:s1.c2")
    revoked = await admin.delete("/users/mover/grants/front_desk_clerk:s1.c1")
    assert revoked.status_code == 200, revoked.text
    assert claims(await token_of(platform, "mover"))["roles"] == ["front_desk_clerk:s1.c2"]
    again = await admin.delete("/users/mover/grants/front_desk_clerk:s1.c1")
    assert again.status_code == 404 and again.json()["error"]["fields"][0]["field"] == "grant"


async def test_a_password_reset_takes_effect_at_the_next_sign_in(admin, platform):
    await register(admin, "forgetful")
    new = "a brand new passphrase"
    reset = await admin.put("/users/forgetful/password", json={"password": new})
    assert reset.status_code == 200, reset.text
    assert (await sign_in(platform, "forgetful")).status_code == 400
    assert (await sign_in(platform, "forgetful", new)).status_code == 200


async def test_only_the_administrator_manages_accounts(platform):
    user = {"username": "sneaky", "name": "x", "password": PASSWORD}
    for client, status in ((platform["accounts"], 401),
                           (platform.as_("accounts", "civil_affairs"), 403),
                           (platform.as_("accounts", "front_desk_clerk:s1.c1"), 403)):
        assert (await client.post("/users", json=user)).status_code == status
        assert (await client.get("/users")).status_code == status
        assert (await client.post("/api-keys", json={"client_name": "x"})).status_code == status
    assert await platform.apps["accounts"].state.store.stream_version("user-sneaky") == 0


async def test_a_short_password_is_refused_and_nothing_is_written(admin, platform):
    refused = await admin.post("/users", json={"username": "shorty", "name": "x",
                                               "password": "eleven char"})
    assert refused.status_code == 422
    assert refused.json()["error"]["fields"][0]["field"] == "password"
    assert "eleven char" not in refused.text
    assert await platform.apps["accounts"].state.store.stream_version("user-shorty") == 0


async def test_a_bad_grant_is_refused_naming_it_and_nothing_is_written(admin, platform):
    refused = await admin.post("/users", json={"username": "badgrant", "name": "x",
                                               "password": PASSWORD,
                                               "grants": ["front_desk_clerk"]})
    assert refused.status_code == 422
    assert refused.json()["error"]["fields"][0]["field"] == "grants.0"
    assert await platform.apps["accounts"].state.store.stream_version("user-badgrant") == 0


async def test_a_taken_username_is_409(admin):
    await register(admin, "twice")
    again = await admin.post("/users", json={"username": "twice", "name": "y",
                                             "password": PASSWORD})
    assert again.status_code == 409


async def test_two_registrations_of_one_username_at_once_one_wins_and_one_is_409(admin,
                                                                                platform):
    answers = await asyncio.gather(*(
        admin.post("/users", json={"username": "racer", "name": name, "password": PASSWORD})
        for name in ("甲", "乙")))
    assert sorted(a.status_code for a in answers) == [201, 409]
    assert await platform.apps["accounts"].state.store.stream_version("user-racer") == 1


async def test_the_users_read_model_shows_grants_and_status_but_no_hash(admin, platform):
    await register(admin, "reader", "auditor")
    await admin.post("/users/reader/disable")
    user = await admin.get("/users/reader")
    assert user.status_code == 200, user.text
    assert {k: v for k, v in user.json().items() if k != "registered_at"} == {
        "username": "reader", "name": "王芳", "grants": ["auditor"], "disabled": True}
    listed = await platform.eventually("accounts", "/users",
                                       lambda p: any(u["username"] == "reader"
                                                     for u in p["items"]))
    assert "argon2" not in str(listed) and "hash" not in str(listed)
    assert (await admin.get("/users/never-registered")).status_code == 404


async def test_no_password_or_hash_is_in_the_event_log_or_on_the_topic(admin, platform):
    await register(admin, "secretive", "auditor")
    changed = await admin.put("/users/secretive/password", json={"password": "a new one at least"})
    assert changed.status_code == 200, changed.text
    store = platform.apps["accounts"].state.store
    events = await store.read_stream("user-secretive")
    assert [e.type for e in events] == ["accounts.user.registered",
                                        "accounts.user.role_granted",
                                        "accounts.user.password_reset"]
    logged = str([e.data for e in events])
    assert "argon2" not in logged and PASSWORD not in logged and "a new one" not in logged
    # what every service reading the accounts topic sees
    published = str(await messages_on_topic(platform, "accounts"))
    assert "secretive" in published and "argon2" not in published
    # the hash is kept beside the log, and signs in
    assert (await sign_in(platform, "secretive", "a new one at least")).status_code == 200


async def messages_on_topic(platform, service: str) -> list[bytes]:
    consumer = AIOKafkaConsumer(platform.settings.topic(service),
                                bootstrap_servers=platform.settings.kafka_bootstrap_servers,
                                auto_offset_reset="earliest", enable_auto_commit=False)
    await consumer.start()
    try:
        batches = await consumer.getmany(timeout_ms=3000)
        return [m.value for messages in batches.values() for m in messages]
    finally:
        await consumer.stop()


async def test_the_published_keys_verify_a_token_with_pyjwt(admin, platform):
    await register(admin, "verified", "auditor")
    token = await token_of(platform, "verified")
    keys = (await platform["accounts"].get("/.well-known/jwks.json")).json()
    [key] = jwt.PyJWKSet.from_dict(keys).keys
    assert key.key_id == jwt.get_unverified_header(token)["kid"]
    payload = jwt.decode(token, key.key, algorithms=["RS256"], audience=AUDIENCE, issuer=ISSUER)
    assert payload["sub"] == "verified"


async def test_the_discovery_document_names_the_issuer_token_endpoint_and_keys(platform):
    found = (await platform["accounts"].get("/.well-known/openid-configuration")).json()
    assert found["issuer"] == ISSUER
    assert found["jwks_uri"] == f"{ISSUER}/.well-known/jwks.json"
    assert found["token_endpoint"] == platform.settings.auth_token_url
    assert found["grant_types_supported"] == ["password"]
    assert found["id_token_signing_alg_values_supported"] == ["RS256"]
    assert {"sub", "name", "roles"} <= set(found["claims_supported"])


async def test_create_admin_makes_the_first_administrator_once(platform):
    assert await ensure_admin(platform.settings, "root", PASSWORD) is True
    assert await ensure_admin(platform.settings, "root", "another password!") is False
    token = claims(await token_of(platform, "root"))
    assert token["roles"] == ["administrator"]
    [registered, _] = await platform.apps["accounts"].state.store.read_stream("user-root")
    assert registered.actor.user_id == "jiedao-bootstrap"


def create_admin_cli(platform, username, **env):
    inherited = {k: v for k, v in os.environ.items() if k != "JIEDAO_ADMIN_PASSWORD"}
    return subprocess.run(
        [sys.executable, "-m", "deploy.cli", "accounts", "create-admin", username],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
        env={**inherited, "DATABASE_URL": platform.settings.database_url, **env})


async def test_jiedao_accounts_create_admin_prints_a_generated_password_once(platform):
    first = await asyncio.to_thread(create_admin_cli, platform, "chief")
    assert first.returncode == 0, first.stderr
    password = first.stdout.rsplit(": ", 1)[1].strip()
    assert len(password) >= 20
    assert claims(await token_of(platform, "chief", password))["roles"] == ["administrator"]
    again = await asyncio.to_thread(create_admin_cli, platform, "chief")
    assert again.returncode == 0 and "exists already" in again.stdout
    assert password not in again.stdout


async def test_jiedao_accounts_create_admin_refuses_a_short_password_without_echoing_it(
        platform):
    refused = await asyncio.to_thread(create_admin_cli, platform, "weak",
                                      JIEDAO_ADMIN_PASSWORD="tooshort")
    assert refused.returncode == 2 and "password" in refused.stderr
    assert "tooshort" not in refused.stderr + refused.stdout


async def test_password_guessing_meets_a_429_and_other_users_still_sign_in(admin, platform):
    await register(admin, "guessed")
    guesses = [await sign_in(platform, "guessed", f"guess number {i:04d}") for i in range(12)]
    assert [g.status_code for g in guesses[:10]] == [400] * 10  # JIEDAO_SIGN_IN_RATE_LIMIT
    assert guesses[10].status_code == 429 and int(guesses[10].headers["retry-after"]) >= 1
    # even the right password waits now; someone else is not held up
    assert (await sign_in(platform, "guessed")).status_code == 429
    await register(admin, "bystander")
    assert (await sign_in(platform, "bystander")).status_code == 200


async def test_another_service_s_docs_page_may_sign_in_here_and_no_other_page_may(
        admin, platform):
    await register(admin, "docs-user")
    preflight = {"Access-Control-Request-Method": "POST",
                 "Access-Control-Request-Headers": "content-type"}
    allowed = await platform["accounts"].options(
        "/auth/token", headers={"Origin": GRID_DOCS, **preflight})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == GRID_DOCS
    signed_in = await platform["accounts"].post("/auth/token", headers={"Origin": GRID_DOCS},
                                                data={"username": "docs-user",
                                                      "password": PASSWORD})
    assert signed_in.status_code == 200
    assert signed_in.headers["access-control-allow-origin"] == GRID_DOCS
    elsewhere = await platform["accounts"].options(
        "/auth/token", headers={"Origin": "https://evil.example", **preflight})
    assert "access-control-allow-origin" not in elsewhere.headers
