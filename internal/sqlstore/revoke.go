package sqlstore

import (
	"context"
	"encoding/json"

	"github.com/kumo-iot/kumo"
)

// MQTT credentials are revoked by the write that revokes them: the write
// commits, in its own transaction, an MQTT_REVOKED outbox event naming
// the credentials (topic and username), so that no crash can lose it; the
// dispatcher hands it to every node's broker, which ends the sessions
// that logged in with them. From the commit on, the broker's CONNECT
// check (MQTTInstallation) refuses them: the installation is gone, its
// thing is disabled, or its username was replaced (rotateMQTT).

// revokeMQTT commits, within tx, an MQTT_REVOKED event for the MQTT
// installations of an app that match where (a condition on the
// installations table, with args), and returns their credentials. It
// must run before a deletion of those installations in the same tx.
func revokeMQTT(ctx context.Context, tx *Tx, appID, where string, args ...any) ([]kumo.MQTTRevocation, error) {
	rows, err := tx.Query(ctx, `SELECT mqtt_topic, mqtt_username FROM installations
		WHERE app_id = ? AND device_type = 'MQTT' AND `+where, append([]any{appID}, args...)...)
	if err != nil {
		return nil, err
	}
	var revs []kumo.MQTTRevocation
	for rows.Next() {
		var r kumo.MQTTRevocation
		if err := rows.Scan(&r.Topic, &r.Username); err != nil {
			rows.Close()
			return nil, err
		}
		revs = append(revs, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(revs) == 0 {
		return nil, err
	}
	msg, err := json.Marshal(revs)
	if err != nil {
		return nil, err
	}
	now := tx.db.now()
	err = insertEvent(ctx, tx, kumo.Event{Type: kumo.MQTTRevoked, Bucket: kumo.BucketRef{AppID: appID},
		When: now, ModifiedAt: now, Message: msg})
	return revs, err
}

// revokeOwnerMQTT revokes the MQTT credentials of a user's or thing's
// installations (revokeMQTT).
func revokeOwnerMQTT(ctx context.Context, tx *Tx, appID string, owner kumo.Principal) ([]kumo.MQTTRevocation, error) {
	return revokeMQTT(ctx, tx, appID, "owner_kind = ? AND owner_id = ?", int(owner.Kind), owner.ID)
}

// rotateMQTT gives, within tx, the MQTT installations of a user or thing
// a new MQTT username (and so a new password, which derives from it),
// and revokes the old ones. Topic and installation ID stay: the device
// reads its new credentials from GET …/mqtt-endpoint and connects with
// the same client ID, its subscriptions and offline queue intact.
func rotateMQTT(ctx context.Context, tx *Tx, appID string, owner kumo.Principal) error {
	revs, err := revokeOwnerMQTT(ctx, tx, appID, owner)
	if err != nil {
		return err
	}
	for _, r := range revs {
		if _, err := tx.Exec(ctx, "UPDATE installations SET mqtt_username = ? WHERE app_id = ? AND mqtt_username = ?",
			kumo.NewMQTTUsername(appID), appID, r.Username); err != nil {
			return err
		}
	}
	return nil
}
