package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/kumo-iot/kumo"
)

// PushConfigService implements kumo.PushConfigService: an app's FCM and
// APNs credentials.
type PushConfigService struct {
	db *DB
}

var _ kumo.PushConfigService = (*PushConfigService)(nil)

// PushConfig implements kumo.PushConfigService.
func (s *PushConfigService) PushConfig(ctx context.Context, c kumo.Caller) (kumo.PushConfig, error) {
	if !c.IsAdmin() {
		return kumo.PushConfig{}, kumo.Unauthorized(c, "Only the app admin may read the app's push configuration")
	}
	var (
		p                                kumo.PushConfig
		fcmProject, fcmAccount           string
		keyID, teamID, bundleID, apnsKey string
	)
	err := s.db.queryRow(ctx, `SELECT fcm_project_id, fcm_service_account, apns_key_id, apns_team_id, apns_bundle_id, apns_key
		FROM push_configs WHERE app_id = ?`, c.AppID).Scan(&fcmProject, &fcmAccount, &keyID, &teamID, &bundleID, &apnsKey)
	if errors.Is(err, sql.ErrNoRows) {
		return p, nil
	}
	if err != nil {
		return p, err
	}
	if fcmAccount != "" {
		p.FCM = &kumo.FCMConfig{ProjectID: fcmProject, ServiceAccount: []byte(fcmAccount)}
	}
	if apnsKey != "" {
		p.APNs = &kumo.APNsConfig{KeyID: keyID, TeamID: teamID, BundleID: bundleID, Key: []byte(apnsKey)}
	}
	return p, nil
}

// SetPushConfig implements kumo.PushConfigService.
func (s *PushConfigService) SetPushConfig(ctx context.Context, c kumo.Caller, p kumo.PushConfig) (kumo.PushConfig, error) {
	if !c.IsAdmin() {
		return kumo.PushConfig{}, kumo.Unauthorized(c, "Only the app admin may change the app's push configuration")
	}
	if err := p.Validate(); err != nil {
		return kumo.PushConfig{}, err
	}
	var fcm kumo.FCMConfig
	if p.FCM != nil {
		fcm = *p.FCM
	}
	var apns kumo.APNsConfig
	if p.APNs != nil {
		apns = *p.APNs
	}
	err := s.db.writeTx(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(ctx, "DELETE FROM push_configs WHERE app_id = ?", c.AppID); err != nil {
			return err
		}
		if p.FCM == nil && p.APNs == nil {
			return nil
		}
		_, err := tx.Exec(ctx, `INSERT INTO push_configs (app_id, fcm_project_id, fcm_service_account,
			apns_key_id, apns_team_id, apns_bundle_id, apns_key, modified) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
			c.AppID, fcm.ProjectID, string(fcm.ServiceAccount), apns.KeyID, apns.TeamID, apns.BundleID, string(apns.Key), s.db.now())
		return err
	})
	if err != nil {
		return kumo.PushConfig{}, err
	}
	return p, nil
}

// DeletePushConfig implements kumo.PushConfigService.
func (s *PushConfigService) DeletePushConfig(ctx context.Context, c kumo.Caller) error {
	if !c.IsAdmin() {
		return kumo.Unauthorized(c, "Only the app admin may delete the app's push configuration")
	}
	return s.db.writeTx(ctx, func(tx *Tx) error {
		_, err := tx.Exec(ctx, "DELETE FROM push_configs WHERE app_id = ?", c.AppID)
		return err
	})
}
