-- Schema 1: calls, their journals and handled markers, the intents of their Graph requests,
-- call- and plugin-scoped state, and the component bytes of pinned plugin versions. Written in
-- the SQL both engines speak (SQLite and PostgreSQL): no engine-specific types, integers as
-- BIGINT, bytes as BLOB / BYTEA by engine.

CREATE TABLE calls (
    -- The call's key: one spelling of its id whatever form Graph writes it in.
    call_id TEXT PRIMARY KEY,
    -- The id as Graph and the workflow name the call.
    graph_id TEXT NOT NULL,
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
    end_reason TEXT
);

CREATE INDEX calls_live ON calls (ended_at_ms);

CREATE TABLE journal (
    call_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    -- NULL when nothing recognises a repeat; a unique index lets NULLs repeat.
    dedupe_key TEXT,
    -- The tenant of the callback's verified token.
    tenant_id TEXT NOT NULL,
    received_at_ms BIGINT NOT NULL,
    body BLOB NOT NULL,
    -- 1 once the call's worker handled the entry (in the transaction of its state writes).
    handled BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (call_id, seq)
);

CREATE UNIQUE INDEX journal_dedupe ON journal (call_id, dedupe_key);

CREATE TABLE state (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    value BLOB NOT NULL,
    PRIMARY KEY (scope, key)
);

-- Graph requests of a workflow that are not safe to repeat, one per (entry handled, request
-- made while handling it): written before the request is sent, its result after. An intent
-- with no result after a restart has an unknown outcome and is not sent again.
CREATE TABLE intents (
    call_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    idx BIGINT NOT NULL,
    action TEXT NOT NULL,
    started_at_ms BIGINT NOT NULL,
    result TEXT,
    PRIMARY KEY (call_id, seq, idx)
);

CREATE INDEX journal_received ON journal (received_at_ms);

CREATE TABLE components (
    hash TEXT PRIMARY KEY,
    bytes BLOB NOT NULL,
    stored_at_ms BIGINT NOT NULL
);
