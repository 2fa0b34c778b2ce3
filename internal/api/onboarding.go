package api

import (
	"net/http"

	"github.com/kumo-iot/kumo"
)

// onboardingEndpoint is the mqttEndpoint of an onboarding answer: the
// MQTT endpoint with its lifetime named "ttl", not "X-MQTT-TTL"
// (push-mqtt §7.1, §9.2).
type onboardingEndpoint struct {
	InstallationID string `json:"installationID"`
	Username       string `json:"username"`
	Password       string `json:"password"`
	MQTTTopic      string `json:"mqttTopic"`
	Host           string `json:"host"`
	PortTCP        int    `json:"portTCP"`
	PortSSL        int    `json:"portSSL"`
	PortWS         int    `json:"portWS"`
	PortWSS        int    `json:"portWSS"`
	TTL            int64  `json:"ttl"`
}

// handleOnboarding serves POST /thing-if/apps/{appID}/onboardings. The
// Content-Type (any case, any parameters) says which of the six forms the
// body is. A thing's answer is {thingID, accessToken, mqttEndpoint}, an
// end node's {endNodeThingID, accessToken}; both 200.
func (s *Server) handleOnboarding(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	kind, err := kumo.ParseOnboardingKind(mediaType(r))
	if err != nil {
		return err
	}
	body, err := decodeObject(w, r)
	if err != nil {
		return err
	}
	o, err := kumo.ParseOnboarding(kind, body)
	if err != nil {
		return err
	}
	res, err := s.Onboardings.Onboard(r.Context(), c, o)
	if err != nil {
		return err
	}
	if kind.EndNode() {
		writeJSON(w, http.StatusOK, "application/vnd.kii.OnboardingEndNodeResponse+json", map[string]any{
			"endNodeThingID": res.ThingID, "accessToken": res.AccessToken})
		return nil
	}
	writeJSON(w, http.StatusOK, "application/vnd.kii.OnboardingResponse+json", onboardingAnswer{
		ThingID: res.ThingID, AccessToken: res.AccessToken,
		MQTTEndpoint: onboardingEndpoint(s.mqttEndpoint(r, *res.Installation))})
	return nil
}

// onboardingAnswer is a thing's onboarding answer, in Kii's order: the
// thing ID and the token first, each on a line that ends in a comma (the
// ebisu owner scripts read them with sed).
type onboardingAnswer struct {
	ThingID      string             `json:"thingID"`
	AccessToken  string             `json:"accessToken"`
	MQTTEndpoint onboardingEndpoint `json:"mqttEndpoint"`
}
