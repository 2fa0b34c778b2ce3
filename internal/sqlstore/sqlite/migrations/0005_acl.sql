-- Explicit ACL changes (kumo.ACLChange). A target's ACL is its defaults
-- (kumo.DefaultACL, computed, never stored) with these applied: granted 1
-- adds an entry, granted 0 revokes a default one. bucket '' is the
-- scope's own ACL; object_id '' a bucket's.
CREATE TABLE acl_entries (
	app_id    TEXT NOT NULL,
	scope     TEXT NOT NULL,
	bucket    TEXT NOT NULL,
	object_id TEXT NOT NULL,
	verb      TEXT NOT NULL,
	subject   TEXT NOT NULL, -- kumo.Subject in its path form
	granted   INTEGER NOT NULL,
	PRIMARY KEY (app_id, scope, bucket, object_id, verb, subject)
) WITHOUT ROWID;
CREATE INDEX acl_entries_subject ON acl_entries (app_id, subject);

-- Who created a bucket (a user or thing ID; '' for the admin): its
-- default ACL names the creator.
ALTER TABLE buckets ADD COLUMN creator TEXT NOT NULL DEFAULT '';

INSERT INTO counters (name, value) VALUES ('acl', 0);
