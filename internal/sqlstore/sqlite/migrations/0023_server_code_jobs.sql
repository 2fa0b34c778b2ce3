-- Runs of server code to do (issue 13, hooks): a server hook's run on a
-- change, or a Thing-IF SERVER_CODE trigger's, inserted in the
-- transaction of the change (the outbox of server code). kind is
-- 'hook' or 'thing-if'; version the version to run (an ID, or 'current');
-- params the endpoint's params (JSON object); hook_path/hook_when the
-- hook's; actor_kind (kumo.CallerKind) and actor_id who made the change
-- (a hook's token is issued at run time, never stored); token a Thing-IF
-- trigger's executorAccessToken (stored in the trigger already);
-- trigger_app_id/thing_id/trigger_id the trigger's (its app differs
-- from app_id with serverCode.targetAppID). A worker claims a due job (next_at
-- <= now, claimed_until <= now) by setting claimed_until/claimed_by
-- and counting the attempt; a claim that expires (a crash) is claimed
-- again. The job is deleted when done or given up.
CREATE TABLE server_code_jobs (
	id            TEXT NOT NULL PRIMARY KEY,
	app_id        TEXT NOT NULL,
	kind          TEXT NOT NULL,
	version       TEXT NOT NULL,
	endpoint      TEXT NOT NULL,
	params        TEXT NOT NULL,
	hook_path     TEXT NOT NULL DEFAULT '',
	hook_when     TEXT NOT NULL DEFAULT '',
	actor_kind    INTEGER NOT NULL DEFAULT 0,
	actor_id      TEXT NOT NULL DEFAULT '',
	token         TEXT NOT NULL DEFAULT '',
	trigger_app_id TEXT NOT NULL DEFAULT '',
	thing_id      TEXT NOT NULL DEFAULT '',
	trigger_id    TEXT NOT NULL DEFAULT '',
	attempts      INTEGER NOT NULL DEFAULT 0,
	next_at       INTEGER NOT NULL,
	claimed_until INTEGER NOT NULL DEFAULT 0,
	claimed_by    TEXT NOT NULL DEFAULT '',
	created_at    INTEGER NOT NULL
);
CREATE INDEX server_code_jobs_due ON server_code_jobs (next_at);
