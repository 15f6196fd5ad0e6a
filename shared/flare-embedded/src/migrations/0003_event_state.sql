-- 0003 event state: each timeline event keeps the incident as that event left it (its JSON document at the
-- event's version), written in the same transaction, so that a notice delivered or retried later describes the
-- moment of its event rather than whatever happened since. Events from before this migration have none; the
-- dispatcher falls back to the current incident for them.
ALTER TABLE timeline ADD COLUMN incident TEXT;
