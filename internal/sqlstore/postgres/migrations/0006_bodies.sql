-- Object bodies: the same tables as SQLite's, plus the bytes themselves
-- (sqlstore.SQLBlobs): each blob in chunks of 1 MiB, written outside the
-- writer's transactions before the row that names it commits.
CREATE TABLE object_bodies (
	app_id       TEXT COLLATE "C" NOT NULL,
	scope        TEXT COLLATE "C" NOT NULL,
	bucket       TEXT COLLATE "C" NOT NULL,
	object_id    TEXT COLLATE "C" NOT NULL,
	blob_id      TEXT COLLATE "C" NOT NULL,
	content_type TEXT COLLATE "C" NOT NULL,
	size         BIGINT NOT NULL,
	modified     BIGINT NOT NULL,
	PRIMARY KEY (app_id, scope, bucket, object_id)
);
CREATE INDEX object_bodies_blob ON object_bodies (blob_id);

CREATE TABLE body_publications (
	id        TEXT COLLATE "C" PRIMARY KEY,
	app_id    TEXT COLLATE "C" NOT NULL,
	scope     TEXT COLLATE "C" NOT NULL,
	bucket    TEXT COLLATE "C" NOT NULL,
	object_id TEXT COLLATE "C" NOT NULL,
	expires   BIGINT NOT NULL, -- 0: never
	created   BIGINT NOT NULL
);
CREATE INDEX body_publications_object ON body_publications (app_id, scope, bucket, object_id);

CREATE TABLE body_uploads (
	id           TEXT COLLATE "C" PRIMARY KEY,
	app_id       TEXT COLLATE "C" NOT NULL,
	scope        TEXT COLLATE "C" NOT NULL,
	bucket       TEXT COLLATE "C" NOT NULL,
	object_id    TEXT COLLATE "C" NOT NULL,
	content_type TEXT COLLATE "C" NOT NULL,
	total        BIGINT NOT NULL, -- -1: no chunk yet
	created      BIGINT NOT NULL
);
CREATE INDEX body_uploads_object ON body_uploads (app_id, scope, bucket, object_id);

CREATE TABLE body_upload_chunks (
	upload_id  TEXT COLLATE "C" NOT NULL,
	first_byte BIGINT NOT NULL,
	size       BIGINT NOT NULL,
	blob_id    TEXT COLLATE "C" NOT NULL,
	PRIMARY KEY (upload_id, first_byte)
);
CREATE INDEX body_upload_chunks_blob ON body_upload_chunks (blob_id);

CREATE TABLE blob_trash (
	blob_id TEXT COLLATE "C" PRIMARY KEY,
	created BIGINT NOT NULL
);

-- The bytes (PostgreSQL only; SQLite keeps them in files).
CREATE TABLE blobs (
	id         TEXT COLLATE "C" PRIMARY KEY,
	size       BIGINT NOT NULL,
	chunk_size INTEGER NOT NULL,
	created    BIGINT NOT NULL
);
CREATE TABLE blob_chunks (
	blob_id TEXT COLLATE "C" NOT NULL,
	n       INTEGER NOT NULL,
	data    BYTEA NOT NULL,
	PRIMARY KEY (blob_id, n)
);
