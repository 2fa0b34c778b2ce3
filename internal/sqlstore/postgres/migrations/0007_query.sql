-- The query index: one row per indexed top-level field of an object
-- (kumo.IndexEntries), written in the transaction of every object write.
-- kind: 'b' boolean, 'n' number, 'p' point, 's' string (kumo.IndexKind);
-- num: the number, the boolean (0/1) or the point's latitude, else 0;
-- str: the string, or a number's form ('' integer, '.' decimal), else '';
-- lon: the point's longitude, else 0. Text compares bytewise (COLLATE
-- "C"), as in SQLite and Go.
CREATE TABLE object_fields (
	app_id    TEXT COLLATE "C" NOT NULL,
	scope     TEXT COLLATE "C" NOT NULL,
	bucket    TEXT COLLATE "C" NOT NULL,
	object_id TEXT COLLATE "C" NOT NULL,
	field     TEXT COLLATE "C" NOT NULL,
	kind      TEXT COLLATE "C" NOT NULL,
	num       DOUBLE PRECISION NOT NULL,
	str       TEXT COLLATE "C" NOT NULL,
	lon       DOUBLE PRECISION NOT NULL,
	PRIMARY KEY (app_id, scope, bucket, object_id, field)
);
-- Clauses and orders on a field read this index, in value order.
CREATE INDEX object_fields_value ON object_fields (app_id, scope, bucket, field, kind, num, str, object_id);
-- Orders by _created and _modified.
CREATE INDEX objects_created ON objects (app_id, scope, bucket, created, id);
CREATE INDEX objects_modified ON objects (app_id, scope, bucket, modified, id);
-- Objects stored before this migration are indexed by the server when it
-- opens the database, which then deletes this row.
INSERT INTO meta (key, value) VALUES ('object-fields-backfill', 'pending');
