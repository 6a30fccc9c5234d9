-- Schema 1: calls, their journals and handled markers, call- and plugin-scoped state, and the
-- component bytes of pinned plugin versions. Written in the SQL both engines speak (SQLite and
-- PostgreSQL): no engine-specific types, integers as BIGINT, bytes as BLOB / BYTEA by engine.

CREATE TABLE calls (
    call_id TEXT PRIMARY KEY,
    tenant_id TEXT NOT NULL,
    direction TEXT NOT NULL,
    route TEXT,
    plugin TEXT NOT NULL,
    plugin_version TEXT NOT NULL,
    state TEXT NOT NULL,
    my_participant_id TEXT,
    callback_uri TEXT,
    created_by_plugin BIGINT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    last_keepalive_ms BIGINT,
    ended_at_ms BIGINT,
    end_reason TEXT,
    -- The highest journal sequence number the call's worker has handled.
    handled_seq BIGINT NOT NULL DEFAULT 0
);

CREATE INDEX calls_live ON calls (ended_at_ms);

CREATE TABLE journal (
    call_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    -- NULL when nothing recognises a repeat; a unique index lets NULLs repeat.
    dedupe_key TEXT,
    received_at_ms BIGINT NOT NULL,
    body BLOB NOT NULL,
    PRIMARY KEY (call_id, seq)
);

CREATE UNIQUE INDEX journal_dedupe ON journal (call_id, dedupe_key);

CREATE TABLE state (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (scope, key)
);

CREATE TABLE components (
    hash TEXT PRIMARY KEY,
    bytes BLOB NOT NULL,
    stored_at_ms BIGINT NOT NULL
);
