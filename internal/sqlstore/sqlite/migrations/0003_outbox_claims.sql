-- Claims on outbox events, for a database several nodes share: the node
-- dispatching an event, and until when (epoch ms) its claim holds. One
-- SQLite file has one node, which claims through a cursor instead; the
-- columns are here so that both stores have one schema.
ALTER TABLE outbox ADD COLUMN claimed_by TEXT NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN claimed_until INTEGER NOT NULL DEFAULT 0;
