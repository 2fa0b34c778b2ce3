-- The query index: one row per indexed top-level field of an object
-- (kumo.IndexEntries), written in the transaction of every object write.
-- kind: 'b' boolean, 'n' number, 'p' point, 's' string (kumo.IndexKind);
-- num: the number, the boolean (0/1) or the point's latitude, else 0;
-- str: the string, or a number's form ('' integer, '.' decimal), else '';
-- lon: the point's longitude, else 0.
CREATE TABLE object_fields (
	app_id    TEXT NOT NULL,
	scope     TEXT NOT NULL,
	bucket    TEXT NOT NULL,
	object_id TEXT NOT NULL,
	field     TEXT NOT NULL,
	kind      TEXT NOT NULL,
	num       REAL NOT NULL,
	str       TEXT NOT NULL,
	lon       REAL NOT NULL,
	PRIMARY KEY (app_id, scope, bucket, object_id, field)
) WITHOUT ROWID;
-- Clauses and orders on a field read this index, in value order.
CREATE INDEX object_fields_value ON object_fields (app_id, scope, bucket, field, kind, num, str, object_id);
-- Orders by _created and _modified.
CREATE INDEX objects_created ON objects (app_id, scope, bucket, created, id);
CREATE INDEX objects_modified ON objects (app_id, scope, bucket, modified, id);
-- Objects stored before this migration are indexed by the server when it
-- opens the database, which then deletes this row.
INSERT INTO meta (key, value) VALUES ('object-fields-backfill', 'pending');
