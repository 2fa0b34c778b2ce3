-- Claims on outbox events, for the nodes sharing this database: the node
-- dispatching an event, and until when (epoch ms) its claim holds. A node
-- claims rows FOR UPDATE SKIP LOCKED whose claim has expired.
ALTER TABLE outbox ADD COLUMN claimed_by TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE outbox ADD COLUMN claimed_until BIGINT NOT NULL DEFAULT 0;
