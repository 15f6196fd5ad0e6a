-- 0002 dispatch: the delivery ledger, and the queue of timeline events the self-hosted worker has yet to
-- deliver.

-- One row per batch of one event on one channel, as it went out. No foreign key: like the DynamoDB adapter,
-- the ledger records what it is given, and a refused write must only ever mean "already recorded".
-- `channel` compares as bytes (BINARY), the order DynamoDB gives its sort keys.
CREATE TABLE deliveries (
    ticket  INTEGER NOT NULL,
    seq     INTEGER NOT NULL,
    channel TEXT NOT NULL,
    batch   INTEGER NOT NULL,
    doc     TEXT NOT NULL,
    PRIMARY KEY (ticket, seq, channel, batch)
) STRICT, WITHOUT ROWID;

-- The outbox: `create` and `save` add their event here in the transaction that writes it, so no committed
-- event is ever missed and none is queued for a write that failed. The worker deletes a row once the event is
-- delivered, or pushes `due_at` back after a failure. Events written before this migration are not queued:
-- upgrading must not notify anyone of old news.
CREATE TABLE dispatch_queue (
    ticket     INTEGER NOT NULL,
    seq        INTEGER NOT NULL,
    due_at     TEXT NOT NULL,
    attempts   INTEGER NOT NULL DEFAULT 0 CHECK (attempts >= 0),
    last_error TEXT,
    PRIMARY KEY (ticket, seq),
    FOREIGN KEY (ticket, seq) REFERENCES timeline (ticket, seq)
) STRICT, WITHOUT ROWID;

-- The worker's poll: the oldest due events first.
CREATE INDEX dispatch_queue_by_due ON dispatch_queue (due_at, ticket, seq);
