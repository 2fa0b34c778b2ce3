-- Thing-IF commands (push-mqtt §7.2): one row per command to a thing.
-- actions, action_results and metadata are JSON text ('' when absent);
-- the issuer is issuer_kind 'user' or 'group' and its ID; schema_name is
-- '' for a trait command. seq orders a thing's commands as they were
-- created (the listing's pagination key); a command goes with its thing
-- and with its issuer (cascade.go).
CREATE TABLE commands (
	seq                 BIGSERIAL PRIMARY KEY,
	app_id              TEXT NOT NULL,
	id                  TEXT NOT NULL,
	thing_id            TEXT NOT NULL,
	issuer_kind         TEXT NOT NULL,
	issuer_id           TEXT NOT NULL,
	actions             TEXT NOT NULL,
	action_results      TEXT NOT NULL DEFAULT '',
	state               TEXT NOT NULL,
	fired_by_trigger_id TEXT NOT NULL DEFAULT '',
	title               TEXT NOT NULL DEFAULT '',
	description         TEXT NOT NULL DEFAULT '',
	metadata            TEXT NOT NULL DEFAULT '',
	schema_name         TEXT NOT NULL DEFAULT '',
	schema_version      INTEGER NOT NULL DEFAULT 0,
	created             BIGINT NOT NULL,
	modified            BIGINT NOT NULL,
	UNIQUE (app_id, id)
);
CREATE INDEX commands_thing ON commands (app_id, thing_id, seq);
CREATE INDEX commands_issuer ON commands (app_id, issuer_kind, issuer_id);
