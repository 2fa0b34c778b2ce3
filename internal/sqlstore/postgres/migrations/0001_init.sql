-- Kumo schema, version 1 (PostgreSQL): the same tables, columns and
-- indexes as SQLite's. Times are epoch milliseconds (BIGINT). Flags are
-- INTEGER 0/1, as on SQLite, so that one Go scan serves both. Text
-- compares and sorts by bytes (COLLATE "C"), as SQLite's BINARY does,
-- whatever the database's locale.

CREATE TABLE meta (
	key   TEXT COLLATE "C" PRIMARY KEY,
	value TEXT NOT NULL
);

CREATE TABLE apps (
	id                 TEXT COLLATE "C" PRIMARY KEY,
	app_key            TEXT COLLATE "C" NOT NULL UNIQUE,
	name               TEXT COLLATE "C" NOT NULL,
	client_id          TEXT COLLATE "C" NOT NULL UNIQUE,
	client_secret_hash TEXT COLLATE "C" NOT NULL,
	created            BIGINT NOT NULL
);

-- Access tokens, stored by their SHA-256 (key); never in the clear.
CREATE TABLE tokens (
	key          TEXT COLLATE "C" PRIMARY KEY,
	app_id       TEXT COLLATE "C" NOT NULL,
	kind         INTEGER NOT NULL, -- kumo.CallerKind
	principal_id TEXT COLLATE "C" NOT NULL,
	expires      BIGINT NOT NULL, -- 0: never
	created      BIGINT NOT NULL
);
CREATE INDEX tokens_principal ON tokens (app_id, principal_id);

CREATE TABLE users (
	app_id        TEXT COLLATE "C" NOT NULL,
	id            TEXT COLLATE "C" NOT NULL,
	login_name    TEXT COLLATE "C",
	email         TEXT COLLATE "C",
	phone         TEXT COLLATE "C",
	password_hash TEXT COLLATE "C" NOT NULL,
	display_name  TEXT COLLATE "C" NOT NULL,
	country       TEXT COLLATE "C" NOT NULL,
	locale        TEXT COLLATE "C" NOT NULL,
	custom        TEXT NOT NULL, -- JSON object
	disabled      INTEGER NOT NULL,
	created       BIGINT NOT NULL,
	modified      BIGINT NOT NULL,
	PRIMARY KEY (app_id, id)
);
CREATE UNIQUE INDEX users_login_name ON users (app_id, login_name);
CREATE UNIQUE INDEX users_email ON users (app_id, email);
CREATE UNIQUE INDEX users_phone ON users (app_id, phone);

CREATE TABLE things (
	app_id          TEXT COLLATE "C" NOT NULL,
	id              TEXT COLLATE "C" NOT NULL,
	vendor_thing_id TEXT COLLATE "C" NOT NULL,
	password_hash   TEXT COLLATE "C" NOT NULL,
	fields          TEXT NOT NULL, -- JSON object: predefined and custom fields
	disabled        INTEGER NOT NULL,
	online          INTEGER NOT NULL,
	online_modified BIGINT NOT NULL,
	created         BIGINT NOT NULL,
	modified        BIGINT NOT NULL,
	PRIMARY KEY (app_id, id)
);
CREATE UNIQUE INDEX things_vendor_thing_id ON things (app_id, vendor_thing_id);

-- scope: '' (app), 'user:{id}', 'group:{id}' or 'thing:{id}' (kumo.Scope.Key).
CREATE TABLE buckets (
	app_id  TEXT COLLATE "C" NOT NULL,
	scope   TEXT COLLATE "C" NOT NULL,
	name    TEXT COLLATE "C" NOT NULL,
	created BIGINT NOT NULL,
	PRIMARY KEY (app_id, scope, name)
);

CREATE TABLE objects (
	app_id    TEXT COLLATE "C" NOT NULL,
	scope     TEXT COLLATE "C" NOT NULL,
	bucket    TEXT COLLATE "C" NOT NULL,
	id        TEXT COLLATE "C" NOT NULL,
	data      TEXT NOT NULL, -- JSON object without system fields
	data_type TEXT COLLATE "C" NOT NULL,
	owner     TEXT COLLATE "C" NOT NULL,
	version   BIGINT NOT NULL,
	created   BIGINT NOT NULL,
	modified  BIGINT NOT NULL,
	PRIMARY KEY (app_id, scope, bucket, id)
);

CREATE TABLE installations (
	id              TEXT COLLATE "C" NOT NULL,
	app_id          TEXT COLLATE "C" NOT NULL,
	device_type     TEXT COLLATE "C" NOT NULL,
	registration_id TEXT COLLATE "C" NOT NULL,
	development     INTEGER NOT NULL,
	owner_kind      INTEGER NOT NULL,
	owner_id        TEXT COLLATE "C" NOT NULL,
	mqtt_username   TEXT COLLATE "C" UNIQUE,
	mqtt_topic      TEXT COLLATE "C" UNIQUE,
	created         BIGINT NOT NULL,
	PRIMARY KEY (app_id, id),
	UNIQUE (app_id, device_type, registration_id)
);
CREATE INDEX installations_owner ON installations (app_id, owner_kind, owner_id, device_type);
CREATE UNIQUE INDEX installations_one_mqtt ON installations (app_id, owner_kind, owner_id) WHERE device_type = 'MQTT';

CREATE TABLE bucket_subscriptions (
	app_id          TEXT COLLATE "C" NOT NULL,
	scope           TEXT COLLATE "C" NOT NULL,
	bucket          TEXT COLLATE "C" NOT NULL,
	subscriber_kind INTEGER NOT NULL,
	subscriber_id   TEXT COLLATE "C" NOT NULL,
	created         BIGINT NOT NULL,
	PRIMARY KEY (app_id, scope, bucket, subscriber_kind, subscriber_id)
);

-- Committed events waiting to become pushes (the outbox). seq comes from
-- a sequence: never reused, in commit order while one writer commits.
CREATE TABLE outbox (
	seq         BIGSERIAL PRIMARY KEY,
	app_id      TEXT COLLATE "C" NOT NULL,
	type        TEXT COLLATE "C" NOT NULL,
	scope       TEXT COLLATE "C" NOT NULL,
	bucket      TEXT COLLATE "C" NOT NULL,
	object_id   TEXT COLLATE "C" NOT NULL,
	sender_kind INTEGER NOT NULL,
	sender_id   TEXT COLLATE "C" NOT NULL,
	at          BIGINT NOT NULL,
	modified_at BIGINT NOT NULL
);
