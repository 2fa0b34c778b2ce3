-- Thing-IF states (push-mqtt §7.4): each thing's latest state document
-- (trait things: alias → fields), and the history of every state written,
-- one row per alias written ('' for a non-trait thing's document), kept
-- for --state-history-days.
CREATE TABLE states (
	app_id   TEXT NOT NULL,
	thing_id TEXT NOT NULL,
	state    TEXT NOT NULL,
	created  INTEGER NOT NULL,
	modified INTEGER NOT NULL,
	PRIMARY KEY (app_id, thing_id)
);
CREATE TABLE state_history (
	seq      INTEGER PRIMARY KEY AUTOINCREMENT,
	app_id   TEXT NOT NULL,
	thing_id TEXT NOT NULL,
	alias    TEXT NOT NULL,
	created  INTEGER NOT NULL,
	state    TEXT NOT NULL
);
CREATE INDEX state_history_alias ON state_history (app_id, thing_id, alias, created, seq);
CREATE INDEX state_history_created ON state_history (created);

-- Thing-IF configuration: thing types (their configuration document),
-- their firmware versions, traits' versions (a definition that finalize
-- makes immutable) and the aliases of a thing type's firmware version
-- (alias → trait version).
CREATE TABLE thing_types (
	app_id  TEXT NOT NULL,
	name    TEXT NOT NULL,
	config  TEXT NOT NULL,
	created INTEGER NOT NULL,
	PRIMARY KEY (app_id, name)
);
CREATE TABLE firmware_versions (
	app_id     TEXT NOT NULL,
	thing_type TEXT NOT NULL,
	name       TEXT NOT NULL,
	created    INTEGER NOT NULL,
	PRIMARY KEY (app_id, thing_type, name)
);
CREATE TABLE trait_versions (
	app_id     TEXT NOT NULL,
	trait      TEXT NOT NULL,
	version    INTEGER NOT NULL,
	definition TEXT NOT NULL,
	finalized  INTEGER NOT NULL,
	created    INTEGER NOT NULL,
	PRIMARY KEY (app_id, trait, version)
);
CREATE TABLE trait_aliases (
	app_id           TEXT NOT NULL,
	thing_type       TEXT NOT NULL,
	firmware_version TEXT NOT NULL,
	alias            TEXT NOT NULL,
	trait            TEXT NOT NULL,
	trait_version    INTEGER NOT NULL,
	created          INTEGER NOT NULL,
	PRIMARY KEY (app_id, thing_type, firmware_version, alias)
);
