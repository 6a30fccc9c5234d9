-- Schema 3: every state value carries a revision, a number that changes with each write of
-- its key (drawn at random, so a key deleted and written again does not get an old one back).
-- A compare-and-swap writes only when the revision is still the one the writer read.

ALTER TABLE state ADD COLUMN revision BIGINT NOT NULL DEFAULT 1;
