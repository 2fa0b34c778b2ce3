-- The developer log (kumo.DevLog, spec server-code.md §5.3): one row per
-- record, in the order written (seq); fields holds the key-specific
-- fields as a JSON object. Pruned by age (--servercode-log-days) and to a
-- number of records per app (sqlstore/devlog.go).
CREATE TABLE dev_logs (
	seq         INTEGER PRIMARY KEY AUTOINCREMENT,
	app_id      TEXT NOT NULL,
	id          TEXT NOT NULL,
	created     INTEGER NOT NULL,
	level       TEXT NOT NULL,
	log_key     TEXT NOT NULL,
	description TEXT NOT NULL,
	user_id     TEXT NOT NULL DEFAULT '',
	fields      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX dev_logs_app ON dev_logs (app_id, seq);

-- Schedule executions (kumo.ScheduleExecution, spec §4.5, §5.1): one row
-- per tick of a scheduled job. Inserting the row claims the tick for the
-- whole cluster: the UNIQUE (app_id, name, tick) lets one node only run
-- it. status is RUNNING, SUCCESS or FAILED; finished_at 0 while RUNNING.
CREATE TABLE schedule_executions (
	app_id      TEXT NOT NULL,
	id          TEXT NOT NULL,
	name        TEXT NOT NULL,
	tick        INTEGER NOT NULL,
	status      TEXT NOT NULL,
	started_at  INTEGER NOT NULL,
	finished_at INTEGER NOT NULL DEFAULT 0,
	result      TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (app_id, id),
	UNIQUE (app_id, name, tick)
);
CREATE INDEX schedule_executions_started ON schedule_executions (started_at);
CREATE INDEX schedule_executions_running ON schedule_executions (started_at) WHERE status = 'RUNNING';
