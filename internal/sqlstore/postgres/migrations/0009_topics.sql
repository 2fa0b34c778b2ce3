-- Kii topics ("push to user"): a topic of a scope (kumo.TopicRef), and
-- who created it (a user or thing ID; '' for the admin): its default ACL
-- names the creator.
CREATE TABLE topics (
	app_id  TEXT COLLATE "C" NOT NULL,
	scope   TEXT COLLATE "C" NOT NULL, -- kumo.Scope.Key()
	name    TEXT COLLATE "C" NOT NULL,
	created BIGINT NOT NULL,
	creator TEXT COLLATE "C" NOT NULL,
	PRIMARY KEY (app_id, scope, name)
);

-- The users and things subscribed to each topic.
CREATE TABLE topic_subscriptions (
	app_id          TEXT COLLATE "C" NOT NULL,
	scope           TEXT COLLATE "C" NOT NULL,
	topic           TEXT COLLATE "C" NOT NULL,
	subscriber_kind INTEGER NOT NULL, -- kumo.CallerKind
	subscriber_id   TEXT COLLATE "C" NOT NULL,
	created         BIGINT NOT NULL,
	PRIMARY KEY (app_id, scope, topic, subscriber_kind, subscriber_id)
);
CREATE INDEX topic_subscriptions_subscriber ON topic_subscriptions (app_id, subscriber_kind, subscriber_id);

-- A topic's ACL changes: acl_entries gains a topic column (topic '' for
-- every other target; a topic's rows have bucket '' and object_id '').
ALTER TABLE acl_entries ADD COLUMN topic TEXT COLLATE "C" NOT NULL DEFAULT '';
ALTER TABLE acl_entries DROP CONSTRAINT acl_entries_pkey;
ALTER TABLE acl_entries ADD PRIMARY KEY (app_id, scope, bucket, object_id, topic, verb, subject);
