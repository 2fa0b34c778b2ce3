-- Pushes waiting for a phone (kumo.PhonePush): filled by the dispatcher,
-- drained by the phone workers of every node; a claim lasts until
-- claimed_until (a dead node's pushes are taken over), due is when a push
-- may be sent (a retry's later time).
CREATE TABLE phone_pushes (
	id INTEGER PRIMARY KEY AUTOINCREMENT,
	app_id          TEXT NOT NULL,
	message_id      TEXT NOT NULL,
	event_type      TEXT NOT NULL,
	installation_id TEXT NOT NULL,
	device_type     TEXT NOT NULL,
	registration_id TEXT NOT NULL,
	development     INTEGER NOT NULL,
	payload         TEXT NOT NULL,
	attempts        INTEGER NOT NULL,
	due             INTEGER NOT NULL,
	claimed_by      TEXT NOT NULL,
	claimed_until   INTEGER NOT NULL
);
CREATE INDEX phone_pushes_due ON phone_pushes (due, claimed_until);
