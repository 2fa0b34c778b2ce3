-- The push configuration of an app (kumo.PushConfig): its FCM project and
-- service account key, its APNs key. An empty column is an unset value;
-- FCM is configured when fcm_service_account is set, APNs when apns_key
-- is. The keys are stored as the admin gave them: protect the database
-- (and the SQLite data directory) as you would the keys.
CREATE TABLE push_configs (
	app_id              TEXT COLLATE "C" PRIMARY KEY,
	fcm_project_id      TEXT NOT NULL DEFAULT '',
	fcm_service_account TEXT NOT NULL DEFAULT '',
	apns_key_id         TEXT NOT NULL DEFAULT '',
	apns_team_id        TEXT NOT NULL DEFAULT '',
	apns_bundle_id      TEXT NOT NULL DEFAULT '',
	apns_key            TEXT NOT NULL DEFAULT '',
	modified            BIGINT NOT NULL
);
