-- Object bodies. The bytes live outside these tables (sqlstore.Blobs:
-- files in the bodies directory beside the database); a row names its
-- blob. A blob is written before the row that names it commits, and
-- deleted after: blob_trash lists the blobs no row names any more, in the
-- transaction that dropped them, until they are deleted.
CREATE TABLE object_bodies (
	app_id       TEXT NOT NULL,
	scope        TEXT NOT NULL,
	bucket       TEXT NOT NULL,
	object_id    TEXT NOT NULL,
	blob_id      TEXT NOT NULL,
	content_type TEXT NOT NULL,
	size         INTEGER NOT NULL,
	modified     INTEGER NOT NULL,
	PRIMARY KEY (app_id, scope, bucket, object_id)
) WITHOUT ROWID;
CREATE INDEX object_bodies_blob ON object_bodies (blob_id);

-- Published bodies: anyone reads the body of the object by the ID.
CREATE TABLE body_publications (
	id        TEXT PRIMARY KEY,
	app_id    TEXT NOT NULL,
	scope     TEXT NOT NULL,
	bucket    TEXT NOT NULL,
	object_id TEXT NOT NULL,
	expires   INTEGER NOT NULL, -- 0: never
	created   INTEGER NOT NULL
);
CREATE INDEX body_publications_object ON body_publications (app_id, scope, bucket, object_id);

-- Resumable uploads and their chunks (one blob each).
CREATE TABLE body_uploads (
	id           TEXT PRIMARY KEY,
	app_id       TEXT NOT NULL,
	scope        TEXT NOT NULL,
	bucket       TEXT NOT NULL,
	object_id    TEXT NOT NULL,
	content_type TEXT NOT NULL,
	total        INTEGER NOT NULL, -- -1: no chunk yet
	created      INTEGER NOT NULL
);
CREATE INDEX body_uploads_object ON body_uploads (app_id, scope, bucket, object_id);

CREATE TABLE body_upload_chunks (
	upload_id  TEXT NOT NULL,
	first_byte INTEGER NOT NULL,
	size       INTEGER NOT NULL,
	blob_id    TEXT NOT NULL,
	PRIMARY KEY (upload_id, first_byte)
) WITHOUT ROWID;
CREATE INDEX body_upload_chunks_blob ON body_upload_chunks (blob_id);

CREATE TABLE blob_trash (
	blob_id TEXT PRIMARY KEY,
	created INTEGER NOT NULL
) WITHOUT ROWID;
