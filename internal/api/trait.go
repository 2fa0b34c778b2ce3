package api

import (
	"net/http"

	"github.com/kumo-iot/kumo"
)

// traitVersionJSON is a trait version as read: its definition with
// trait, traitVersion, finalized and createdAt.
func traitVersionJSON(v kumo.TraitVersion) map[string]any {
	out := map[string]any{}
	for k, val := range v.Definition {
		out[k] = val
	}
	out["trait"], out["traitVersion"], out["finalized"], out["createdAt"] = v.Trait, v.Version, v.Finalized, v.Created
	return out
}

// traitDefinition reads a trait version's definition from the body.
func traitDefinition(w http.ResponseWriter, r *http.Request) (kumo.TraitVersion, error) {
	trait := r.PathValue("trait")
	if err := kumo.CheckConfigName("trait", trait); err != nil {
		return kumo.TraitVersion{}, err
	}
	body, err := decodeObject(w, r)
	if err != nil {
		return kumo.TraitVersion{}, err
	}
	v, err := kumo.ParseTraitDefinition(body)
	v.Trait = trait
	return v, err
}

// handleTraitVersionCreate serves POST /thing-if/apps/{appID}/traits/{trait}/versions
// (TraitCreationRequest+json): 201 {"traitVersion": n}.
func (s *Server) handleTraitVersionCreate(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	v, err := traitDefinition(w, r)
	if err != nil {
		return err
	}
	n, err := s.Traits.CreateTraitVersion(r.Context(), c, v)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, "application/vnd.kii.TraitCreationResponse+json", map[string]any{"traitVersion": n})
	return nil
}

// handleTraitVersionList serves GET …/traits/{trait}/versions: {"results":[…]}.
func (s *Server) handleTraitVersionList(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	list, err := s.Traits.TraitVersions(r.Context(), c, r.PathValue("trait"))
	if err != nil {
		return err
	}
	out := make([]map[string]any, 0, len(list))
	for _, v := range list {
		out = append(out, traitVersionJSON(v))
	}
	writeJSON(w, http.StatusOK, "application/vnd.kii.TraitVersionsRetrievalResponse+json", map[string]any{"results": out})
	return nil
}

// traitVersion reads the {version} of the path.
func traitVersion(r *http.Request) (int, error) {
	return kumo.ParseTraitVersionNumber(r.PathValue("version"))
}

// handleTraitVersionGet serves GET …/traits/{trait}/versions/{version}.
func (s *Server) handleTraitVersionGet(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	n, err := traitVersion(r)
	if err != nil {
		return err
	}
	v, err := s.Traits.TraitVersion(r.Context(), c, r.PathValue("trait"), n)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, "application/vnd.kii.TraitRetrievalResponse+json", traitVersionJSON(v))
	return nil
}

// handleTraitVersionPut serves PUT …/traits/{trait}/versions/{version}: a
// new definition for a version not finalized; 204.
func (s *Server) handleTraitVersionPut(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	n, err := traitVersion(r)
	if err != nil {
		return err
	}
	v, err := traitDefinition(w, r)
	if err != nil {
		return err
	}
	v.Version = n
	if err := s.Traits.UpdateTraitVersion(r.Context(), c, v); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// handleTraitVersionFinalize serves PUT (or POST) …/traits/{trait}/versions/{version}/finalize:
// the version becomes immutable; 204.
func (s *Server) handleTraitVersionFinalize(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
	n, err := traitVersion(r)
	if err != nil {
		return err
	}
	if err := s.Traits.FinalizeTraitVersion(r.Context(), c, r.PathValue("trait"), n); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}
