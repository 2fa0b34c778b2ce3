-- Explicit ACL changes (kumo.ACLChange). A target's ACL is its defaults
-- (kumo.DefaultACL, computed, never stored) with these applied: granted 1
-- adds an entry, granted 0 revokes a default one. bucket '' is the
-- scope's own ACL; object_id '' a bucket's.
CREATE TABLE acl_entries (
	app_id    TEXT COLLATE "C" NOT NULL,
	scope     TEXT COLLATE "C" NOT NULL,
	bucket    TEXT COLLATE "C" NOT NULL,
	object_id TEXT COLLATE "C" NOT NULL,
	verb      TEXT COLLATE "C" NOT NULL,
	subject   TEXT COLLATE "C" NOT NULL, -- kumo.Subject in its path form
	granted   INTEGER NOT NULL,
	PRIMARY KEY (app_id, scope, bucket, object_id, verb, subject)
);
CREATE INDEX acl_entries_subject ON acl_entries (app_id, subject);

-- Who created a bucket (a user or thing ID; '' for the admin): its
-- default ACL names the creator.
ALTER TABLE buckets ADD COLUMN creator TEXT COLLATE "C" NOT NULL DEFAULT '';

INSERT INTO counters (name, value) VALUES ('acl', 0);
