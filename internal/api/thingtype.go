package api

import (
	"net/http"

	"github.com/kumo-iot/kumo"
)

// thingTypeJSON is a thing type as listed and read: its name and its
// configuration's fields.
func thingTypeJSON(t kumo.ThingType) map[string]any {
	out := map[string]any{}
	for k, v := range t.Config {
		out[k] = v
	}
	out["thingType"] = t.Name
	return out
}

// createdOrReplaced answers 201 for what was created, 204 otherwise.
func createdOrReplaced(w http.ResponseWriter, created bool) {
	if created {
		w.WriteHeader(http.StatusCreated)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// handleThingTypePut serves PUT /api/apps/{appID}/configuration/thing-types/{thingType}
// (ThingTypeConfigurationRequest+json, any object): 201 new, 204 replaced.
func (s *Server) handleThingTypePut(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	name := r.PathValue("thingType")
	if err := kumo.CheckConfigName("thing type", name); err != nil {
		return err
	}
	body, err := decodeObject(w, r)
	if err != nil {
		return err
	}
	created, err := s.ThingTypes.PutThingType(r.Context(), c, kumo.ThingType{Name: name, Config: body})
	if err != nil {
		return err
	}
	createdOrReplaced(w, created)
	return nil
}

// handleThingTypeList serves GET …/configuration/thing-types: an array
// of {thingType, …configuration}.
func (s *Server) handleThingTypeList(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	list, err := s.ThingTypes.ThingTypes(r.Context(), c)
	if err != nil {
		return err
	}
	out := make([]map[string]any, 0, len(list))
	for _, t := range list {
		out = append(out, thingTypeJSON(t))
	}
	writeJSON(w, http.StatusOK, "application/vnd.kii.ThingTypesRetrievalResponse+json", out)
	return nil
}

// handleThingTypeGet serves GET …/configuration/thing-types/{thingType}.
func (s *Server) handleThingTypeGet(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	t, err := s.ThingTypes.ThingType(r.Context(), c, r.PathValue("thingType"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, "application/vnd.kii.ThingTypeConfigurationResponse+json", thingTypeJSON(t))
	return nil
}

// handleThingTypeDelete serves DELETE …/configuration/thing-types/{thingType}.
func (s *Server) handleThingTypeDelete(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	if err := s.ThingTypes.DeleteThingType(r.Context(), c, r.PathValue("thingType")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleFirmwareVersionPut serves PUT …/thing-types/{thingType}/firmware-versions/{firmwareVersion}
// (no body needed): 201 new, 204 when it existed.
func (s *Server) handleFirmwareVersionPut(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	name := r.PathValue("firmwareVersion")
	if err := kumo.CheckConfigName("firmware version", name); err != nil {
		return err
	}
	created, err := s.ThingTypes.PutFirmwareVersion(r.Context(), c, r.PathValue("thingType"), name)
	if err != nil {
		return err
	}
	createdOrReplaced(w, created)
	return nil
}

// handleFirmwareVersionList serves GET …/thing-types/{thingType}/firmware-versions:
// {"results":[{"firmwareVersion"}]}.
func (s *Server) handleFirmwareVersionList(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	list, err := s.ThingTypes.FirmwareVersions(r.Context(), c, r.PathValue("thingType"))
	if err != nil {
		return err
	}
	out := make([]map[string]string, 0, len(list))
	for _, fw := range list {
		out = append(out, map[string]string{"firmwareVersion": fw})
	}
	writeJSON(w, http.StatusOK, "application/vnd.kii.FirmwareVersionsRetrievalResponse+json", map[string]any{"results": out})
	return nil
}

// handleFirmwareVersionDelete serves DELETE …/firmware-versions/{firmwareVersion}.
func (s *Server) handleFirmwareVersionDelete(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	if err := s.ThingTypes.DeleteFirmwareVersion(r.Context(), c, r.PathValue("thingType"), r.PathValue("firmwareVersion")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleTraitAliasPut serves PUT /thing-if/apps/{appID}/configuration/thing-types/{thingType}/firmware-versions/{firmwareVersion}/aliases/{alias}
// (TraitAliasCreationRequest+json: {trait, traitVersion}): 201;
// TRAIT_ALIAS_ALREADY_EXISTS (409) when it exists.
func (s *Server) handleTraitAliasPut(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	alias := r.PathValue("alias")
	if err := kumo.CheckConfigName("alias", alias); err != nil {
		return err
	}
	body, err := decodeObject(w, r)
	if err != nil {
		return err
	}
	a, err := kumo.ParseTraitAlias(body)
	if err != nil {
		return err
	}
	a.ThingType, a.FirmwareVersion, a.Alias = r.PathValue("thingType"), r.PathValue("firmwareVersion"), alias
	if err := s.ThingTypes.PutTraitAlias(r.Context(), c, a); err != nil {
		return err
	}
	w.WriteHeader(http.StatusCreated)
	return nil
}

// handleTraitAliasList serves GET …/aliases: {"aliases":[{alias, trait, traitVersion}]}.
func (s *Server) handleTraitAliasList(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	list, err := s.ThingTypes.TraitAliases(r.Context(), c, r.PathValue("thingType"), r.PathValue("firmwareVersion"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, "application/vnd.kii.TraitAliasesRetrievalResponse+json", map[string]any{"aliases": list})
	return nil
}

// handleTraitAliasGet serves GET …/aliases/{alias}.
func (s *Server) handleTraitAliasGet(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	a, err := s.ThingTypes.TraitAlias(r.Context(), c, r.PathValue("thingType"), r.PathValue("firmwareVersion"), r.PathValue("alias"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, "application/vnd.kii.TraitAliasRetrievalResponse+json", a)
	return nil
}

// handleTraitAliasDelete serves DELETE …/aliases/{alias}.
func (s *Server) handleTraitAliasDelete(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	if err := s.ThingTypes.DeleteTraitAlias(r.Context(), c, r.PathValue("thingType"), r.PathValue("firmwareVersion"), r.PathValue("alias")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
