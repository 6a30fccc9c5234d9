-- Schema 2: call ownership. Each call handled by an instance has a lease: its owner, an epoch
-- that grows each time another owner takes the call, and when it lapses (Unix milliseconds,
-- by the database's clock). Every write an owner makes for a call checks, in its transaction,
-- that the lease is still its own at its epoch: an owner that was paused past its lease and
-- woke after a takeover writes nothing.

CREATE TABLE leases (
    call_id TEXT PRIMARY KEY,
    owner TEXT NOT NULL,
    epoch BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL
);

CREATE INDEX leases_owner ON leases (owner);

-- What a sweep looks for: entries not handled yet.
CREATE INDEX journal_unhandled ON journal (call_id, received_at_ms) WHERE handled = 0;
