-- Thing-IF triggers (push-mqtt §7.5): a trigger of a thing, its document
-- (predicate, triggersWhat, command or serverCode, title, description,
-- metadata) as JSON in body. event_source is STATES, SCHEDULE or
-- SCHEDULE_ONCE. A COMMAND trigger's command goes to command_thing_id,
-- issued by issuer_kind ('user', 'group') / issuer_id: the trigger goes
-- with either ('' for SERVER_CODE triggers). next_fire_at (epoch ms) is when an enabled schedule fires
-- next, NULL for state triggers and schedules that will not fire again:
-- the scheduler claims a due trigger by moving it with a conditional
-- UPDATE, in the transaction that inserts the command it fires.
CREATE TABLE triggers (
	app_id          TEXT NOT NULL,
	id              TEXT NOT NULL,
	thing_id        TEXT NOT NULL,
	event_source    TEXT NOT NULL,
	command_thing_id TEXT NOT NULL DEFAULT '',
	issuer_kind      TEXT NOT NULL DEFAULT '',
	issuer_id        TEXT NOT NULL DEFAULT '',
	body            TEXT NOT NULL,
	disabled        INTEGER NOT NULL DEFAULT 0,
	disabled_reason TEXT NOT NULL DEFAULT '',
	next_fire_at    INTEGER,
	created_at      INTEGER NOT NULL,
	modified_at     INTEGER NOT NULL,
	PRIMARY KEY (app_id, id)
);
CREATE INDEX triggers_thing ON triggers (app_id, thing_id, id);
CREATE INDEX triggers_due ON triggers (next_fire_at);

-- What a SERVER_CODE trigger's runs gave (GET …/results/server-code):
-- one row per run, result the JSON of kumo.TriggerServerCodeResult.
CREATE TABLE trigger_server_code_results (
	app_id      TEXT NOT NULL,
	trigger_id  TEXT NOT NULL,
	id          TEXT NOT NULL,
	thing_id    TEXT NOT NULL,
	executed_at INTEGER NOT NULL,
	result      TEXT NOT NULL,
	PRIMARY KEY (app_id, trigger_id, id)
);
CREATE INDEX trigger_server_code_results_thing ON trigger_server_code_results (app_id, thing_id);
