package kumo

// CallerKind says what kind of principal makes a request.
type CallerKind int

// Caller kinds.
const (
	Anonymous CallerKind = iota // no token, Basic auth, or an app-level token
	Admin                       // the app admin (client credentials)
	UserCaller
	ThingCaller
)

func (k CallerKind) String() string {
	switch k {
	case Admin:
		return "admin"
	case UserCaller:
		return "user"
	case ThingCaller:
		return "thing"
	default:
		return "anonymous"
	}
}

// Caller is who makes a request, within one app.
type Caller struct {
	AppID string
	Kind  CallerKind
	ID    string // user ID, thing ID or admin client ID; empty for anonymous
}

// IsAdmin reports whether c is the app admin, who bypasses every ACL.
func (c Caller) IsAdmin() bool { return c.Kind == Admin }

// Authenticated reports whether c holds a user or thing token. This is
// Kii's ANY_AUTHENTICATED_USER subject (the admin passes every check anyway).
func (c Caller) Authenticated() bool { return c.Kind == UserCaller || c.Kind == ThingCaller }

// Is reports whether c is the user or thing named by p.
func (c Caller) Is(p Principal) bool {
	switch p.Kind {
	case UserCaller, ThingCaller:
		return c.Kind == p.Kind && c.ID == p.ID
	}
	return false
}

// Principal returns c as a principal (a subscriber, an owner, a sender).
func (c Caller) Principal() Principal { return Principal{Kind: c.Kind, ID: c.ID} }

// Principal names a user or a thing (and, as sender of an event, possibly
// the admin or an anonymous caller).
type Principal struct {
	Kind CallerKind
	ID   string
}
