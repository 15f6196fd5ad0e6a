-- 0004 poll: the poller's state. One row per source (a sheet or a probe) with what its last run left behind;
-- one row per sheet row handled, so a row is applied once however often the sheet is polled, with the bad
-- ones' field and reason; and each probe's recent check results, kept to a bounded number by the store.
CREATE TABLE poll_sources (
    source TEXT PRIMARY KEY,
    doc    TEXT NOT NULL
);

CREATE TABLE poll_rows (
    source TEXT NOT NULL,
    key    TEXT NOT NULL,
    -- The sheet's row number when the row was bad; NULL for a row applied.
    bad_row INTEGER,
    doc    TEXT,
    PRIMARY KEY (source, key)
);
CREATE INDEX poll_rows_bad ON poll_rows (source, bad_row) WHERE bad_row IS NOT NULL;

CREATE TABLE poll_checks (
    source TEXT NOT NULL,
    seq    INTEGER NOT NULL,
    doc    TEXT NOT NULL,
    PRIMARY KEY (source, seq)
);
