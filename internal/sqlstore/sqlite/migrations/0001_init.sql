-- Kumo schema, version 1 (SQLite). Times are epoch milliseconds.

CREATE TABLE meta (
	key   TEXT PRIMARY KEY,
	value TEXT NOT NULL
);

CREATE TABLE apps (
	id                 TEXT PRIMARY KEY,
	app_key            TEXT NOT NULL UNIQUE,
	name               TEXT NOT NULL,
	client_id          TEXT NOT NULL UNIQUE,
	client_secret_hash TEXT NOT NULL,
	created            INTEGER NOT NULL
);

-- Access tokens, stored by their SHA-256 (key); never in the clear.
CREATE TABLE tokens (
	key          TEXT PRIMARY KEY,
	app_id       TEXT NOT NULL,
	kind         INTEGER NOT NULL, -- kumo.CallerKind
	principal_id TEXT NOT NULL,
	expires      INTEGER NOT NULL, -- 0: never
	created      INTEGER NOT NULL
);
CREATE INDEX tokens_principal ON tokens (app_id, principal_id);

CREATE TABLE users (
	app_id        TEXT NOT NULL,
	id            TEXT NOT NULL,
	login_name    TEXT,
	email         TEXT,
	phone         TEXT,
	password_hash TEXT NOT NULL,
	display_name  TEXT NOT NULL,
	country       TEXT NOT NULL,
	locale        TEXT NOT NULL,
	custom        TEXT NOT NULL, -- JSON object
	disabled      INTEGER NOT NULL,
	created       INTEGER NOT NULL,
	modified      INTEGER NOT NULL,
	PRIMARY KEY (app_id, id)
);
CREATE UNIQUE INDEX users_login_name ON users (app_id, login_name);
CREATE UNIQUE INDEX users_email ON users (app_id, email);
CREATE UNIQUE INDEX users_phone ON users (app_id, phone);

CREATE TABLE things (
	app_id          TEXT NOT NULL,
	id              TEXT NOT NULL,
	vendor_thing_id TEXT NOT NULL,
	password_hash   TEXT NOT NULL,
	fields          TEXT NOT NULL, -- JSON object: predefined and custom fields
	disabled        INTEGER NOT NULL,
	online          INTEGER NOT NULL,
	online_modified INTEGER NOT NULL,
	created         INTEGER NOT NULL,
	modified        INTEGER NOT NULL,
	PRIMARY KEY (app_id, id)
);
CREATE UNIQUE INDEX things_vendor_thing_id ON things (app_id, vendor_thing_id);

-- scope: '' (app), 'user:{id}', 'group:{id}' or 'thing:{id}' (kumo.Scope.Key).
CREATE TABLE buckets (
	app_id  TEXT NOT NULL,
	scope   TEXT NOT NULL,
	name    TEXT NOT NULL,
	created INTEGER NOT NULL,
	PRIMARY KEY (app_id, scope, name)
) WITHOUT ROWID;

CREATE TABLE objects (
	app_id    TEXT NOT NULL,
	scope     TEXT NOT NULL,
	bucket    TEXT NOT NULL,
	id        TEXT NOT NULL,
	data      TEXT NOT NULL, -- JSON object without system fields
	data_type TEXT NOT NULL,
	owner     TEXT NOT NULL,
	version   INTEGER NOT NULL,
	created   INTEGER NOT NULL,
	modified  INTEGER NOT NULL,
	PRIMARY KEY (app_id, scope, bucket, id)
) WITHOUT ROWID;

CREATE TABLE installations (
	id              TEXT NOT NULL,
	app_id          TEXT NOT NULL,
	device_type     TEXT NOT NULL,
	registration_id TEXT NOT NULL,
	development     INTEGER NOT NULL,
	owner_kind      INTEGER NOT NULL,
	owner_id        TEXT NOT NULL,
	mqtt_username   TEXT UNIQUE,
	mqtt_topic      TEXT UNIQUE,
	created         INTEGER NOT NULL,
	PRIMARY KEY (app_id, id),
	UNIQUE (app_id, device_type, registration_id)
);
CREATE INDEX installations_owner ON installations (app_id, owner_kind, owner_id, device_type);
CREATE UNIQUE INDEX installations_one_mqtt ON installations (app_id, owner_kind, owner_id) WHERE device_type = 'MQTT';

CREATE TABLE bucket_subscriptions (
	app_id          TEXT NOT NULL,
	scope           TEXT NOT NULL,
	bucket          TEXT NOT NULL,
	subscriber_kind INTEGER NOT NULL,
	subscriber_id   TEXT NOT NULL,
	created         INTEGER NOT NULL,
	PRIMARY KEY (app_id, scope, bucket, subscriber_kind, subscriber_id)
) WITHOUT ROWID;

-- Committed events waiting to become pushes (the outbox).
CREATE TABLE outbox (
	seq         INTEGER PRIMARY KEY AUTOINCREMENT,
	app_id      TEXT NOT NULL,
	type        TEXT NOT NULL,
	scope       TEXT NOT NULL,
	bucket      TEXT NOT NULL,
	object_id   TEXT NOT NULL,
	sender_kind INTEGER NOT NULL,
	sender_id   TEXT NOT NULL,
	at          INTEGER NOT NULL,
	modified_at INTEGER NOT NULL
);
