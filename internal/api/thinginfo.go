package api

import (
	"net/http"

	"github.com/kumo-iot/kumo"
)

// thingInfo is one of the thing info endpoints of Thing-IF
// (…/things/{thingID}/firmware-version and …/thing-type): the body key,
// the thing field it reads and writes, and the error of a GET on a thing
// that has none.
type thingInfo struct {
	key, field, mediaType string
	missing               kumo.Code
}

var (
	firmwareVersionInfo = thingInfo{"firmwareVersion", kumo.ThingFirmwareVersionField,
		"application/vnd.kii.ThingFirmwareVersionRetrievalResponse+json", kumo.ErrThingWithoutFirmwareVersion}
	thingTypeInfo = thingInfo{"thingType", kumo.ThingTypeField,
		"application/vnd.kii.ThingTypeRetrievalResponse+json", kumo.ErrThingWithoutThingType}
)

// handleThingInfoGet serves GET …/things/{thingID}/firmware-version and
// …/thing-type: 200 {key: value}, or 404 THING_WITHOUT_FIRMWARE_VERSION /
// THING_WITHOUT_THING_TYPE when the thing has none. The thing, its owners
// and the admin may read it.
func (s *Server) handleThingInfoGet(info thingInfo) handler {
	return func(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
		t, err := s.Things.FindThing(r.Context(), c, r.PathValue("thing"))
		if err != nil {
			return err
		}
		v, ok := t.Fields[info.field].(string)
		if !ok || v == "" {
			return kumo.Errorf(info.missing, "Thing %s has no %s", t.ID, info.key).
				With("appID", c.AppID).With("thingID", t.ID)
		}
		writeJSON(w, http.StatusOK, info.mediaType, map[string]string{info.key: v})
		return nil
	}
}

// handleThingInfoPut serves PUT …/things/{thingID}/firmware-version
// ({"firmwareVersion"}, ThingFirmwareVersionUpdateRequest) and
// …/thing-type ({"thingType"}, ThingTypeUpdateRequest): 204. The value is
// the thing's _firmwareVersion or _thingType field (1 to 100
// characters). The thing, its owners and the admin may write it.
func (s *Server) handleThingInfoPut(info thingInfo) handler {
	return func(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
		body, err := decodeObject(w, r)
		if err != nil {
			return err
		}
		v, err := kumo.ParseThingInfo(body, info.key)
		if err != nil {
			return err
		}
		if err := s.Things.UpdateThing(r.Context(), c, r.PathValue("thing"), map[string]any{info.field: v}); err != nil {
			return err
		}
		return noContent(w)
	}
}
