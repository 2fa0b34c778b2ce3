-- Pushes waiting for a phone (kumo.PhonePush): filled by the dispatcher,
-- drained by the phone workers of every node; a claim lasts until
-- claimed_until (a dead node's pushes are taken over), due is when a push
-- may be sent (a retry's later time).
CREATE TABLE phone_pushes (
	id BIGSERIAL PRIMARY KEY,
	app_id          TEXT COLLATE "C" NOT NULL,
	message_id      TEXT COLLATE "C" NOT NULL,
	event_type      TEXT COLLATE "C" NOT NULL,
	installation_id TEXT COLLATE "C" NOT NULL,
	device_type     TEXT COLLATE "C" NOT NULL,
	registration_id TEXT COLLATE "C" NOT NULL,
	development     INTEGER NOT NULL,
	payload         TEXT NOT NULL,
	attempts        INTEGER NOT NULL,
	due             BIGINT NOT NULL,
	claimed_by      TEXT COLLATE "C" NOT NULL,
	claimed_until   BIGINT NOT NULL
);
CREATE INDEX phone_pushes_due ON phone_pushes (due, claimed_until);
