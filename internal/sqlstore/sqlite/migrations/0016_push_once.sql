-- Exactly once into the phone queue: set on an outbox event in the
-- transaction that queues its phone pushes (phone_pushes), so that the
-- event dispatched again (a failed completion, a restart, another node
-- taking over its claim) queues none a second time, even after the first
-- were sent and deleted. It lives as long as the event.
ALTER TABLE outbox ADD COLUMN phones_queued INTEGER NOT NULL DEFAULT 0;

-- What the delivery ledger says of a push replayed from, or dropped out
-- of, a device's offline queue: its event's type and a sent message's ID.
ALTER TABLE mqtt_queue ADD COLUMN event_type TEXT NOT NULL DEFAULT '';
ALTER TABLE mqtt_queue ADD COLUMN message_id TEXT NOT NULL DEFAULT '';
