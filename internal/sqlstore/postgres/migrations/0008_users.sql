-- App parameters (kumo.AppParams), as the JSON object the admin set.
ALTER TABLE apps ADD COLUMN params TEXT NOT NULL DEFAULT '{}';

-- Failed logins of a user or thing, for lockout (kumo.AppParams):
-- failures counted since since; locked until locked_until (epoch ms).
CREATE TABLE login_failures (
	app_id       TEXT COLLATE "C" NOT NULL,
	principal_id TEXT COLLATE "C" NOT NULL,
	failures     INTEGER NOT NULL,
	since        BIGINT NOT NULL,
	locked_until BIGINT NOT NULL,
	PRIMARY KEY (app_id, principal_id)
);

-- Refresh tokens, stored by their SHA-256 (key), each with the key of the
-- access token issued with it: a refresh revokes both (one use).
CREATE TABLE refresh_tokens (
	key          TEXT COLLATE "C" PRIMARY KEY,
	app_id       TEXT COLLATE "C" NOT NULL,
	kind         INTEGER NOT NULL, -- kumo.CallerKind
	principal_id TEXT COLLATE "C" NOT NULL,
	access_key   TEXT COLLATE "C" NOT NULL,
	created      BIGINT NOT NULL
);
CREATE INDEX refresh_tokens_principal ON refresh_tokens (app_id, principal_id);
