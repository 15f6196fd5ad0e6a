-- 0001 initial: incidents and their timeline, ticket numbers, idempotency records, the catalog and access.
--
-- Whole records are kept as JSON in `doc`; the other columns copy the fields that queries filter or sort on.
-- Times are `flare_core::timefmt::sortable` strings, so string order is time order.

-- One row. Ticket numbers come from here, each in its own committed transaction, so a number is never
-- handed out twice even when the create that wanted it fails.
CREATE TABLE ticket_counter (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    last INTEGER NOT NULL CHECK (last >= 0)
) STRICT;

INSERT INTO ticket_counter (id, last) VALUES (1, 0);

CREATE TABLE incidents (
    ticket      INTEGER PRIMARY KEY,
    version     INTEGER NOT NULL,
    status      TEXT NOT NULL,
    severity    TEXT NOT NULL,
    started_at  TEXT NOT NULL,
    resolved_at TEXT,
    -- When the incident stops overlapping time: its resolution, or never while it is open. One index on it
    -- answers "open at, or resolved after, the window's start" with a single range.
    ends_at     TEXT NOT NULL GENERATED ALWAYS AS (ifnull(resolved_at, '9999-12-31T23:59:59.999999Z')) VIRTUAL,
    channel     TEXT NOT NULL,
    external_id TEXT,
    doc         TEXT NOT NULL,
    -- NULLs are distinct, so incidents without an external id never collide.
    UNIQUE (channel, external_id)
) STRICT;

-- Page order of the dashboard: newest start first, ties by ticket.
CREATE INDEX incidents_by_start ON incidents (started_at DESC, ticket DESC);
-- Incidents that started before a window but still overlap it.
CREATE INDEX incidents_by_end ON incidents (ends_at);
-- The open incidents, in page order.
CREATE INDEX incidents_open ON incidents (started_at DESC, ticket DESC) WHERE status <> 'resolved';

-- The systems each incident affects, for the dashboard's system filter.
CREATE TABLE incident_systems (
    ticket INTEGER NOT NULL REFERENCES incidents (ticket),
    system TEXT NOT NULL,
    PRIMARY KEY (ticket, system)
) STRICT, WITHOUT ROWID;

CREATE TABLE timeline (
    ticket INTEGER NOT NULL REFERENCES incidents (ticket),
    seq    INTEGER NOT NULL,
    doc    TEXT NOT NULL,
    PRIMARY KEY (ticket, seq)
) STRICT, WITHOUT ROWID;

CREATE TABLE idempotency (
    key        TEXT PRIMARY KEY,
    doc        TEXT NOT NULL,
    expires_at TEXT NOT NULL
) STRICT, WITHOUT ROWID;

CREATE INDEX idempotency_by_expiry ON idempotency (expires_at);

CREATE TABLE systems (
    id  TEXT PRIMARY KEY,
    doc TEXT NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE subscribers (
    system      TEXT NOT NULL,
    contact_key TEXT NOT NULL,
    doc         TEXT NOT NULL,
    PRIMARY KEY (system, contact_key)
) STRICT, WITHOUT ROWID;

CREATE TABLE users (
    username TEXT PRIMARY KEY,
    doc      TEXT NOT NULL
) STRICT, WITHOUT ROWID;

CREATE TABLE api_keys (
    id   TEXT PRIMARY KEY,
    hash TEXT NOT NULL UNIQUE,
    doc  TEXT NOT NULL
) STRICT, WITHOUT ROWID;
