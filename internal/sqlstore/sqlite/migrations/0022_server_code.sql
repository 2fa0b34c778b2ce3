-- Server code (server-code.md §1): an app's deployed versions, each one
-- script as uploaded (versions are immutable: only deleted), the
-- environment version it was deployed for ("0" or "6").
CREATE TABLE server_code_versions (
	app_id              TEXT NOT NULL,
	id                  TEXT NOT NULL,
	script              TEXT NOT NULL,
	environment_version TEXT NOT NULL,
	created_at          INTEGER NOT NULL,
	modified_at         INTEGER NOT NULL,
	PRIMARY KEY (app_id, id)
);

-- The current version of an app (no row: none is current).
CREATE TABLE server_code_current (
	app_id     TEXT NOT NULL PRIMARY KEY,
	version_id TEXT NOT NULL
);

-- A version's hook configuration (§4.1), as uploaded; schedules is 1 when
-- it has scheduled jobs (the scheduler's AppsWithSchedules).
CREATE TABLE server_code_hooks (
	app_id      TEXT NOT NULL,
	version_id  TEXT NOT NULL,
	config      TEXT NOT NULL,
	schedules   INTEGER NOT NULL DEFAULT 0,
	modified_at INTEGER NOT NULL,
	PRIMARY KEY (app_id, version_id)
);

-- Bumped by every change of the current version or of a hook
-- configuration, and by a version's delete: the caches of current hook
-- configurations and of scripts are valid while it keeps its value.
INSERT INTO counters (name, value) VALUES ('servercode', 0);
