-- Exactly once into the phone queue and the offline queue: set on an
-- outbox event in the transaction that queues its phone pushes
-- (phone_pushes), or its pushes to persistent MQTT installations
-- (mqtt_queue), so that the event dispatched again (a failed completion,
-- a restart, another node taking over its claim) queues none a second
-- time, even after the first were sent and deleted. They live as long as
-- the event.
ALTER TABLE outbox ADD COLUMN phones_queued INTEGER NOT NULL DEFAULT 0;
ALTER TABLE outbox ADD COLUMN mqtt_queued INTEGER NOT NULL DEFAULT 0;

-- What the delivery ledger says of a push replayed from, or dropped out
-- of, a device's offline queue: its event's type and a sent message's ID.
ALTER TABLE mqtt_queue ADD COLUMN event_type TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE mqtt_queue ADD COLUMN message_id TEXT COLLATE "C" NOT NULL DEFAULT '';
