package api

import (
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/kumo-iot/kumo"
)

// handleInstallationCreate serves POST /api/apps/{appID}/installations.
// It accepts the legacy "installationType" for "deviceType" and
// "development" as a boolean or a string.
func (s *Server) handleInstallationCreate(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	body, err := decodeObject(w, r)
	if err != nil {
		return err
	}
	req, err := parseInstallationCreate(body, c)
	if err != nil {
		return err
	}
	in, err := s.Installations.CreateInstallation(r.Context(), c, req)
	if err != nil {
		return err
	}
	w.Header().Set("Location", "/apps/"+c.AppID+"/installations/"+in.ID)
	writeJSON(w, http.StatusCreated, "application/vnd.kii.InstallationCreationResponse+json", map[string]any{
		"installationID": in.ID, "installationRegistrationID": in.RegistrationID,
	})
	return nil
}

func parseInstallationCreate(body map[string]any, c kumo.Caller) (kumo.InstallationCreate, error) {
	invalid := map[string]string{}
	var req kumo.InstallationCreate
	typ := firstNonEmpty(stringField(body, "deviceType"), stringField(body, "installationType"))
	if typ == "" && c.Kind == kumo.ThingCaller {
		typ = kumo.DeviceMQTT // Embedded-Core devices may send no type at all
	}
	dt, ok := kumo.ParseDeviceType(typ)
	if !ok {
		invalid["deviceType"] = "must be one of ANDROID, IOS, JPUSH, MQTT"
	}
	req.DeviceType = dt
	req.RegistrationID = stringField(body, "installationRegistrationID")
	switch v := body["development"].(type) {
	case nil:
	case bool:
		req.Development = v
	case string:
		b, err := strconv.ParseBool(strings.TrimSpace(v))
		if err != nil {
			invalid["development"] = "must be true or false"
		}
		req.Development = b
	default:
		invalid["development"] = "must be true or false"
	}
	req.UserID, req.ThingID = stringField(body, "userID"), stringField(body, "thingID")
	if len(invalid) > 0 {
		return req, kumo.InvalidInput(invalid)
	}
	return req, nil
}

// handleInstallationGet serves GET /api/apps/{appID}/installations/{id},
// where {id} may also be {deviceType}:{registrationID}.
func (s *Server) handleInstallationGet(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	in, err := s.Installations.GetInstallation(r.Context(), c, r.PathValue("installation"))
	if err != nil {
		return err
	}
	out := map[string]any{"installationID": in.ID, "installationRegistrationID": in.RegistrationID,
		"deviceType": in.DeviceType, "development": in.Development}
	if in.Owner.Kind == kumo.ThingCaller {
		out["thingID"] = in.Owner.ID
	} else {
		out["userID"] = in.Owner.ID
	}
	writeJSON(w, http.StatusOK, "application/vnd.kii.InstallationRetrievalResponse+json", out)
	return nil
}

// handleInstallationDelete serves DELETE /api/apps/{appID}/installations/{id}.
func (s *Server) handleInstallationDelete(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	if err := s.Installations.DeleteInstallation(r.Context(), c, r.PathValue("installation")); err != nil {
		return err
	}
	return noContent(w)
}

// handleMQTTEndpoint serves GET .../installations/{id}/mqtt-endpoint. Every
// field is present; ports and the TTL are JSON integers.
func (s *Server) handleMQTTEndpoint(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	sel := r.PathValue("installation")
	in, err := s.Installations.GetInstallation(r.Context(), c, sel)
	if err != nil {
		return err
	}
	if in.DeviceType != kumo.DeviceMQTT {
		return kumo.Errorf(kumo.ErrMQTTEndpointNotFound, "Installation %s is not an MQTT installation", in.ID).
			With("installationID", in.ID).With("appID", c.AppID)
	}
	ep := s.mqttEndpoint(r, in)
	w.Header()["X-MQTT-TTL"] = []string{strconv.FormatInt(ep.TTL, 10)} // Kii's spelling, not canonicalised
	writeJSON(w, http.StatusOK, "application/vnd.kii.MQTTEndpointResponse+json", ep)
	return nil
}

// mqttEndpoint returns the MQTT endpoint of installation in, its host the
// one configured or else the one the client reached this API by.
func (s *Server) mqttEndpoint(r *http.Request, in kumo.Installation) kumo.MQTTEndpoint {
	host := s.MQTT.PublicHost
	if host == "" {
		host = r.Host
		if h, _, err := net.SplitHostPort(r.Host); err == nil {
			host = h
		}
		host = strings.Trim(host, "[]")
	}
	return kumo.MQTTEndpoint{
		InstallationID: in.ID, Username: in.MQTTUsername, Password: s.MQTT.Passwords.Password(in.MQTTUsername),
		MQTTTopic: in.MQTTTopic, Host: host,
		PortTCP: s.MQTT.PortTCP, PortSSL: s.MQTT.PortSSL, PortWS: s.MQTT.PortWS, PortWSS: s.MQTT.PortWSS,
		TTL: kumo.NeverExpires,
	}
}
