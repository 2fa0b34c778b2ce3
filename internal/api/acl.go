package api

import (
	"net/http"

	"github.com/kumo-iot/kumo"
)

// aclHandler is a handler of an …/acl path, with its target.
type aclHandler func(w http.ResponseWriter, r *http.Request, c kumo.Caller, t kumo.ACLTarget) error

// aclRoutes registers the ACL endpoints below base (a scope, a bucket or
// an object path), whose target the wrapper target builds.
func (s *Server) aclRoutes(base string, target func(h aclHandler) http.HandlerFunc) {
	m := s.mux
	m.HandleFunc("GET "+base+"/acl", target(s.handleACLGet))
	m.HandleFunc("GET "+base+"/acl/{verb}", target(s.handleACLVerbGet))
	m.HandleFunc("GET "+base+"/acl/{verb}/{subject}", target(s.handleACLSubjectGet))
	m.HandleFunc("PUT "+base+"/acl/{verb}/{subject}", target(s.handleACLGrant))
	m.HandleFunc("DELETE "+base+"/acl/{verb}/{subject}", target(s.handleACLRevoke))
}

// scopeACL wraps a handler of a scope's ACL (/api/apps/{appID}/acl,
// /users/{scopeID}/acl, …).
func (s *Server) scopeACL(kind kumo.ScopeKind) func(h aclHandler) http.HandlerFunc {
	return func(h aclHandler) http.HandlerFunc {
		return s.app(func(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
			t := kumo.ACLTarget{Bucket: kumo.BucketRef{AppID: c.AppID, Scope: kumo.Scope{Kind: kind, ID: r.PathValue("scopeID")}}}
			return h(w, r, c, t)
		})
	}
}

// bucketACL wraps a handler of a bucket's ACL, or with object of an
// object's.
func (s *Server) bucketACL(kind kumo.ScopeKind, object bool) func(h aclHandler) http.HandlerFunc {
	return func(h aclHandler) http.HandlerFunc {
		return s.bucket(kind, func(w http.ResponseWriter, r *http.Request, c kumo.Caller, b kumo.BucketRef) error {
			t := kumo.ACLTarget{Bucket: b}
			if object {
				t.ObjectID = r.PathValue("object")
			}
			return h(w, r, c, t)
		})
	}
}

// aclJSON is Kii's JSON form of an ACL: each verb with its subjects.
func aclJSON(acl kumo.ACL, verbs []kumo.ACLVerb) map[string]any {
	out := map[string]any{}
	for _, v := range verbs {
		if ss := acl[v]; len(ss) > 0 {
			out[string(v)] = subjectsJSON(ss)
		}
	}
	return out
}

func subjectsJSON(ss []kumo.Subject) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s.JSON()
	}
	return out
}

// handleACLGet serves GET …/acl: 200 with every verb that has entries.
func (s *Server) handleACLGet(w http.ResponseWriter, r *http.Request, c kumo.Caller, t kumo.ACLTarget) error {
	acl, err := s.ACLs.ACL(r.Context(), c, t)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, "application/vnd.kii.ACLRetrievalResponse+json", aclJSON(acl, t.Verbs()))
	return nil
}

// handleACLVerbGet serves GET …/acl/{verb}: the verb's subjects, an array.
func (s *Server) handleACLVerbGet(w http.ResponseWriter, r *http.Request, c kumo.Caller, t kumo.ACLTarget) error {
	v, err := t.ParseACLVerb(r.PathValue("verb"))
	if err != nil {
		return err
	}
	acl, err := s.ACLs.ACL(r.Context(), c, t)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, "application/vnd.kii.ACLVerbRetrievalResponse+json", subjectsJSON(acl[v]))
	return nil
}

// handleACLSubjectGet serves GET …/acl/{verb}/{subject}: 200 with the
// subject when it holds the verb, else ACL_NOT_FOUND.
func (s *Server) handleACLSubjectGet(w http.ResponseWriter, r *http.Request, c kumo.Caller, t kumo.ACLTarget) error {
	v, subject, err := aclEntry(r, t)
	if err != nil {
		return err
	}
	acl, err := s.ACLs.ACL(r.Context(), c, t)
	if err != nil {
		return err
	}
	for _, x := range acl[v] {
		if x == subject {
			writeJSON(w, http.StatusOK, "application/vnd.kii.ACLSubjectRetrievalResponse+json", subject.JSON())
			return nil
		}
	}
	return kumo.Errorf(kumo.ErrACLNotFound, "%s is not granted %s", subject, v).
		With("subject", subject.String()).With("action", string(v))
}

// handleACLGrant serves PUT …/acl/{verb}/{subject}: 204. The body, if
// any, is ignored (the JS SDK sends a Content-Type and nothing).
func (s *Server) handleACLGrant(w http.ResponseWriter, r *http.Request, c kumo.Caller, t kumo.ACLTarget) error {
	v, subject, err := aclEntry(r, t)
	if err != nil {
		return err
	}
	if err := s.ACLs.GrantACL(r.Context(), c, t, v, subject); err != nil {
		return err
	}
	return noContent(w)
}

// handleACLRevoke serves DELETE …/acl/{verb}/{subject}: 204.
func (s *Server) handleACLRevoke(w http.ResponseWriter, r *http.Request, c kumo.Caller, t kumo.ACLTarget) error {
	v, subject, err := aclEntry(r, t)
	if err != nil {
		return err
	}
	if err := s.ACLs.RevokeACL(r.Context(), c, t, v, subject); err != nil {
		return err
	}
	return noContent(w)
}

// aclEntry reads the verb and subject of an …/acl/{verb}/{subject} path.
func aclEntry(r *http.Request, t kumo.ACLTarget) (kumo.ACLVerb, kumo.Subject, error) {
	v, err := t.ParseACLVerb(r.PathValue("verb"))
	if err != nil {
		return "", kumo.Subject{}, err
	}
	subject, err := kumo.ParseSubject(r.PathValue("subject"))
	return v, subject, err
}
