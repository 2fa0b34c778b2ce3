-- Offline delivery (Kumo's own, beyond Kii): an MQTT installation whose
-- device last connected with clean session 0 is "persistent": its pushes
-- go through mqtt_queue, durably, and are replayed in order when it
-- reconnects (see docs/compat.md, "Beyond Kii: offline delivery").
ALTER TABLE installations ADD COLUMN persistent INTEGER NOT NULL DEFAULT 0;
CREATE INDEX installations_persistent ON installations (mqtt_topic) WHERE persistent = 1;

-- The queued pushes of persistent installations: seq is the outbox seq
-- of the push's event (the order of the queue, and what makes queueing
-- an event twice, after a crash, queue it once).
CREATE TABLE mqtt_queue (
	mqtt_topic TEXT NOT NULL,
	seq        INTEGER NOT NULL,
	app_id     TEXT NOT NULL,
	payload    TEXT NOT NULL,
	created    INTEGER NOT NULL,
	PRIMARY KEY (mqtt_topic, seq)
) WITHOUT ROWID;
CREATE INDEX mqtt_queue_created ON mqtt_queue (created);

-- Bumped when an installation becomes persistent or stops being so: the
-- dispatchers' cache of persistent topics is valid while it keeps its value.
INSERT INTO counters (name, value) VALUES ('persistent', 0);
