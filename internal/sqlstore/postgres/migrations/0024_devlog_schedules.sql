-- The developer log (kumo.DevLog, spec server-code.md §5.3): one row per
-- record, in the order written (seq); fields holds the key-specific
-- fields as a JSON object. Pruned by age (--servercode-log-days) and to a
-- number of records per app (sqlstore/devlog.go).
CREATE TABLE dev_logs (
	seq         BIGSERIAL PRIMARY KEY,
	app_id      TEXT COLLATE "C" NOT NULL,
	id          TEXT COLLATE "C" NOT NULL,
	created     BIGINT NOT NULL,
	level       TEXT COLLATE "C" NOT NULL,
	log_key     TEXT COLLATE "C" NOT NULL,
	description TEXT NOT NULL,
	user_id     TEXT COLLATE "C" NOT NULL DEFAULT '',
	fields      TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX dev_logs_app ON dev_logs (app_id, seq);

-- Schedule executions (kumo.ScheduleExecution, spec §4.5, §5.1): one row
-- per tick of a scheduled job. Inserting the row claims the tick for the
-- whole cluster: the UNIQUE (app_id, name, tick) lets one node only run
-- it. status is RUNNING, SUCCESS or FAILED; finished_at 0 while RUNNING.
CREATE TABLE schedule_executions (
	app_id      TEXT COLLATE "C" NOT NULL,
	id          TEXT COLLATE "C" NOT NULL,
	name        TEXT COLLATE "C" NOT NULL,
	tick        BIGINT NOT NULL,
	status      TEXT COLLATE "C" NOT NULL,
	started_at  BIGINT NOT NULL,
	finished_at BIGINT NOT NULL DEFAULT 0,
	result      TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (app_id, id),
	UNIQUE (app_id, name, tick)
);
CREATE INDEX schedule_executions_started ON schedule_executions (started_at);
CREATE INDEX schedule_executions_running ON schedule_executions (started_at) WHERE status = 'RUNNING';
