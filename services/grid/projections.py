"""The territory read model: streets, communities, grids (with boundaries) and members."""

from __future__ import annotations

from collections.abc import Iterator

import orjson

from services.grid.events import (
    CommunityRegistered,
    GridDrawn,
    HouseholdsRecounted,
    ManagerAdded,
    ManagerAssigned,
    MemberEnrolled,
    StreetRegistered,
    registry,
)
from shared.envelope import Envelope
from shared.geo import BBOX_COLUMNS, bounds
from shared.projection import Statement

VIEW_SCHEMA = "grid_view"


class TerritoryProjection:
    name = "territory"
    streams = ("street-", "community-", "grid-")  # not the cases on the same topic

    def __init__(self, schema: str = VIEW_SCHEMA) -> None:
        self.schema = schema

    def tables(self) -> list[str]:
        return ["streets", "communities", "grids", "members"]

    def ddl(self) -> str:
        s = self.schema
        return f"""
        CREATE TABLE IF NOT EXISTS {s}.streets (
            street_id text PRIMARY KEY, name_zh text NOT NULL, name_en text NOT NULL,
            kind text NOT NULL, sourced boolean NOT NULL);
        CREATE TABLE IF NOT EXISTS {s}.communities (
            community_id text PRIMARY KEY, street_id text NOT NULL, name_zh text NOT NULL,
            name_en text NOT NULL, sourced boolean NOT NULL);
        CREATE INDEX IF NOT EXISTS communities_street ON {s}.communities (street_id);
        CREATE TABLE IF NOT EXISTS {s}.grids (
            grid_id text PRIMARY KEY, community_id text NOT NULL, street_id text NOT NULL,
            name_zh text NOT NULL, name_en text NOT NULL, households integer NOT NULL,
            boundary jsonb NOT NULL, illustrative boolean NOT NULL, manager_id text,
            {BBOX_COLUMNS}, managers text[] NOT NULL DEFAULT '{{}}');
        ALTER TABLE {s}.grids ADD COLUMN IF NOT EXISTS managers text[] NOT NULL DEFAULT '{{}}';
        CREATE INDEX IF NOT EXISTS grids_community ON {s}.grids (community_id);
        CREATE INDEX IF NOT EXISTS grids_bbox ON {s}.grids (min_lon, max_lon, min_lat, max_lat);
        CREATE TABLE IF NOT EXISTS {s}.members (
            grid_id text NOT NULL, member_id text NOT NULL, name text NOT NULL,
            role text NOT NULL, PRIMARY KEY (grid_id, member_id));
        """

    def statements(self, envelope: Envelope) -> Iterator[Statement]:
        if not registry.knows(envelope.type):
            return
        s, event = self.schema, registry.from_envelope(envelope)
        match event:
            case StreetRegistered():
                yield (f"INSERT INTO {s}.streets VALUES ($1, $2, $3, $4, $5) "
                       "ON CONFLICT (street_id) DO NOTHING",
                       (event.street_id, event.name_zh, event.name_en, event.kind,
                        event.sourced))
            case CommunityRegistered():
                yield (f"INSERT INTO {s}.communities VALUES ($1, $2, $3, $4, $5) "
                       "ON CONFLICT (community_id) DO NOTHING",
                       (event.community_id, event.street_id, event.name_zh, event.name_en,
                        event.sourced))
            case GridDrawn():
                min_lon, min_lat, max_lon, max_lat = bounds(event.boundary)
                yield (f"INSERT INTO {s}.grids VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, "
                       "NULL, $9, $10, $11, $12) ON CONFLICT (grid_id) DO NOTHING",
                       (event.grid_id, event.community_id, event.street_id, event.name_zh,
                        event.name_en, event.households, orjson.dumps(event.boundary).decode(),
                        event.illustrative, min_lon, min_lat, max_lon, max_lat))
            case HouseholdsRecounted():
                yield (f"UPDATE {s}.grids SET households = $2 WHERE grid_id = $1",
                       (event.grid_id, event.households))
            case MemberEnrolled():
                yield (f"INSERT INTO {s}.members VALUES ($1, $2, $3, $4) "
                       "ON CONFLICT (grid_id, member_id) DO NOTHING",
                       (event.grid_id, event.member_id, event.name, event.role))
            case ManagerAssigned():
                # `managers`: the assigned one replaced (SET reads the row as it was), those
                # added kept; safe to apply again
                yield (f"UPDATE {s}.grids SET manager_id = $2, managers = array_append("
                       "array_remove(array_remove(managers, manager_id), $2), $2) "
                       "WHERE grid_id = $1", (event.grid_id, event.member_id))
            case ManagerAdded():
                yield (f"UPDATE {s}.grids SET managers = array_append("
                       "array_remove(managers, $2), $2) WHERE grid_id = $1",
                       (event.grid_id, event.member_id))
