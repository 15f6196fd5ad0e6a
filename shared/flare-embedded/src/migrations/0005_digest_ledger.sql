-- 0005 digest ledger: the weekly digest's deliveries. A digest belongs to a week, not to an incident, so its
-- batches (claim, result, and a resend to the deferred) are keyed by the week's start.
CREATE TABLE digest_deliveries (
    week  TEXT NOT NULL,
    batch INTEGER NOT NULL,
    doc   TEXT NOT NULL,
    PRIMARY KEY (week, batch)
);
