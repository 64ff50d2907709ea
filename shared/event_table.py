"""How a store's events lie in PostgreSQL: the schema's tables, the columns a reader selects and
the store copies in, and an envelope made into a row and back (shared/store.py writes them,
shared/follower.py and shared/audit.py read them)."""

from __future__ import annotations

from typing import Any

import asyncpg
import orjson

from shared.envelope import Actor, Envelope, Scope

SCHEMA_DDL = """
CREATE SCHEMA IF NOT EXISTS {s};
CREATE SEQUENCE IF NOT EXISTS {s}.event_position;
CREATE TABLE IF NOT EXISTS {s}.events (
    position        bigint PRIMARY KEY DEFAULT nextval('{s}.event_position'),
    id              uuid NOT NULL UNIQUE,
    stream_id       text NOT NULL,
    stream_version  integer NOT NULL,
    type            text NOT NULL,
    schema_version  integer NOT NULL,
    source          text NOT NULL,
    subject         text NOT NULL,
    time            timestamptz NOT NULL,
    actor_id        text NOT NULL,
    actor_role      text NOT NULL,
    street_id       text,
    community_id    text,
    grid_id         text,
    correlation_id  uuid NOT NULL,
    causation_id    uuid,
    data            json NOT NULL,  -- kept as the exact text that was hashed
    prev_hash       bytea NOT NULL,
    hash            bytea NOT NULL,
    UNIQUE (stream_id, stream_version)
);
CREATE TABLE IF NOT EXISTS {s}.streams (
    stream_id  text PRIMARY KEY,
    version    integer NOT NULL DEFAULT 0,
    last_hash  bytea NOT NULL DEFAULT '\\x{genesis}'
);
-- An append to streams that are all new, in one statement (shared/store.py): their heads are
-- created first (so the transaction takes its id before it draws positions, as LogFollower
-- needs), the streams the decision read are share-locked and checked, positions are drawn in
-- the events' order, the events inserted. Refuses with JD001 if a stream exists already or a
-- stream read has moved: the store then takes the general path.
CREATE OR REPLACE FUNCTION {s}.append_to_new_streams(
    heads text[], versions integer[], last_hashes bytea[],
    read_ids text[], read_versions integer[], channel text,
    ids uuid[], stream_ids text[], stream_versions integer[], types text[],
    schema_versions integer[], sources text[], subjects text[], times timestamptz[],
    actor_ids text[], actor_roles text[], street_ids text[], community_ids text[],
    grid_ids text[], correlation_ids uuid[], causation_ids uuid[], datas text[],
    prev_hashes bytea[], hashes bytea[]) RETURNS bigint[] LANGUAGE plpgsql AS $$
DECLARE
    created integer;
    positions bigint[];
BEGIN
    INSERT INTO {s}.streams (stream_id, version, last_hash)
    SELECT h.stream_id, h.version, h.last_hash
    FROM unnest(heads, versions, last_hashes) AS h(stream_id, version, last_hash)
    ORDER BY h.stream_id
    ON CONFLICT (stream_id) DO NOTHING;
    GET DIAGNOSTICS created = ROW_COUNT;
    IF created <> cardinality(heads) THEN
        RAISE EXCEPTION 'a stream exists already' USING ERRCODE = 'JD001';
    END IF;
    PERFORM 1 FROM {s}.streams WHERE stream_id = ANY(read_ids) ORDER BY stream_id FOR SHARE;
    IF EXISTS (SELECT 1 FROM unnest(read_ids, read_versions) AS r(stream_id, version)
               LEFT JOIN {s}.streams AS s USING (stream_id)
               WHERE coalesce(s.version, 0) <> r.version) THEN
        RAISE EXCEPTION 'a stream read has moved' USING ERRCODE = 'JD001';
    END IF;
    positions := ARRAY(SELECT nextval('{s}.event_position')
                       FROM generate_series(1, cardinality(ids)));
    INSERT INTO {s}.events (position, id, stream_id, stream_version, type, schema_version,
        source, subject, time, actor_id, actor_role, street_id, community_id, grid_id,
        correlation_id, causation_id, data, prev_hash, hash)
    SELECT e.position, e.id, e.stream_id, e.stream_version, e.type, e.schema_version,
        e.source, e.subject, e.time, e.actor_id, e.actor_role, e.street_id, e.community_id,
        e.grid_id, e.correlation_id, e.causation_id, e.data::json, e.prev_hash, e.hash
    FROM unnest(positions, ids, stream_ids, stream_versions, types, schema_versions, sources,
        subjects, times, actor_ids, actor_roles, street_ids, community_ids, grid_ids,
        correlation_ids, causation_ids, datas, prev_hashes, hashes)
        AS e(position, id, stream_id, stream_version, type, schema_version, source, subject,
             time, actor_id, actor_role, street_id, community_id, grid_id, correlation_id,
             causation_id, data, prev_hash, hash);
    PERFORM pg_notify(channel, '');
    RETURN positions;
END
$$;
CREATE TABLE IF NOT EXISTS {s}.cursors (
    name        text PRIMARY KEY,
    position    bigint NOT NULL,
    published   bigint NOT NULL DEFAULT 0,
    updated_at  timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE IF NOT EXISTS {s}.seals (
    position    bigint PRIMARY KEY,
    chain_hash  bytea NOT NULL,
    sealed      bigint NOT NULL,
    sealed_at   timestamptz NOT NULL DEFAULT now()
);
"""

EVENT_COLUMNS = (
    "position, id, stream_id, stream_version, type, schema_version, source, subject, time, "
    "actor_id, actor_role, street_id, community_id, grid_id, correlation_id, causation_id, "
    "data::text AS data, prev_hash, hash"
)

COPY_COLUMNS = [
    "position", "id", "stream_id", "stream_version", "type", "schema_version", "source",
    "subject", "time", "actor_id", "actor_role", "street_id", "community_id", "grid_id",
    "correlation_id", "causation_id", "data", "prev_hash", "hash",
]

def event_row(position: int, e: Envelope) -> tuple[Any, ...]:
    return (
        position, e.id, e.stream_id, e.stream_version, e.type, e.schema_version, e.source,
        e.subject, e.time, e.actor.user_id, e.actor.role, e.scope.street_id,
        e.scope.community_id, e.scope.grid_id, e.correlation_id, e.causation_id,
        e.data_bytes().decode(), e.prev_hash, e.hash,
    )


def envelope_from_row(row: asyncpg.Record) -> Envelope:
    return Envelope(
        id=row["id"],
        source=row["source"],
        type=row["type"],
        subject=row["subject"],
        time=row["time"],
        stream_id=row["stream_id"],
        stream_version=row["stream_version"],
        schema_version=row["schema_version"],
        actor=Actor(row["actor_id"], row["actor_role"]),
        scope=Scope(row["street_id"], row["community_id"], row["grid_id"]),
        correlation_id=row["correlation_id"],
        causation_id=row["causation_id"],
        data=orjson.loads(row["data"]),
        prev_hash=bytes(row["prev_hash"]),
        hash=bytes(row["hash"]),
        position=row["position"],
    )


def validate_schema_name(schema: str) -> str:
    if not schema.replace("_", "").isalnum() or not schema[0].isalpha():
        raise ValueError(f"not a plain schema name: {schema!r}")
    return schema
