-- Schema 4: news between instances (a plugin version put in service, ...), kept for a day.
-- News is also sent as a notification; an instance that was not listening when it was sent
-- (starting, or its listening connection lost) reads what it missed from here by id.
-- The id is the one column spelled by engine: PostgreSQL numbers it with BIGSERIAL.

CREATE TABLE news (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    sender TEXT NOT NULL,
    news TEXT NOT NULL,
    sent_at_ms BIGINT NOT NULL
);
