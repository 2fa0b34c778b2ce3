-- Kii topics ("push to user"): a topic of a scope (kumo.TopicRef), and
-- who created it (a user or thing ID; '' for the admin): its default ACL
-- names the creator.
CREATE TABLE topics (
	app_id  TEXT NOT NULL,
	scope   TEXT NOT NULL, -- kumo.Scope.Key()
	name    TEXT NOT NULL,
	created INTEGER NOT NULL,
	creator TEXT NOT NULL,
	PRIMARY KEY (app_id, scope, name)
) WITHOUT ROWID;

-- The users and things subscribed to each topic.
CREATE TABLE topic_subscriptions (
	app_id          TEXT NOT NULL,
	scope           TEXT NOT NULL,
	topic           TEXT NOT NULL,
	subscriber_kind INTEGER NOT NULL, -- kumo.CallerKind
	subscriber_id   TEXT NOT NULL,
	created         INTEGER NOT NULL,
	PRIMARY KEY (app_id, scope, topic, subscriber_kind, subscriber_id)
) WITHOUT ROWID;
CREATE INDEX topic_subscriptions_subscriber ON topic_subscriptions (app_id, subscriber_kind, subscriber_id);

-- A topic's ACL changes: acl_entries gains a topic column (topic '' for
-- every other target; a topic's rows have bucket '' and object_id '').
-- SQLite cannot change a primary key, so the table is made again.
CREATE TABLE acl_entries_new (
	app_id    TEXT NOT NULL,
	scope     TEXT NOT NULL,
	bucket    TEXT NOT NULL,
	object_id TEXT NOT NULL,
	topic     TEXT NOT NULL,
	verb      TEXT NOT NULL,
	subject   TEXT NOT NULL, -- kumo.Subject in its path form
	granted   INTEGER NOT NULL,
	PRIMARY KEY (app_id, scope, bucket, object_id, topic, verb, subject)
) WITHOUT ROWID;
INSERT INTO acl_entries_new (app_id, scope, bucket, object_id, topic, verb, subject, granted)
	SELECT app_id, scope, bucket, object_id, '', verb, subject, granted FROM acl_entries;
DROP TABLE acl_entries;
ALTER TABLE acl_entries_new RENAME TO acl_entries;
CREATE INDEX acl_entries_subject ON acl_entries (app_id, subject);
