// Package api serves Kii Cloud's REST API over HTTP: routes, media types,
// Kii's tolerances and its error format. Handlers decode a request, call one
// service method and encode the answer; the rules live in the services.
package api

import (
	"cmp"
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/kumo-iot/kumo"
	"github.com/kumo-iot/kumo/internal/auth"
	"github.com/kumo-iot/kumo/internal/throttle"
)

// MQTTSettings is what the MQTT endpoint API advertises.
type MQTTSettings struct {
	// PublicHost is the broker host given to devices; when empty, the host
	// the client used to reach this API.
	PublicHost string
	// Ports really served (0 when a listener is off).
	PortTCP, PortSSL, PortWS, PortWSS int
	// Passwords derives each installation's MQTT password.
	Passwords auth.MQTTPasswords
}

// Server is the Kii REST API.
type Server struct {
	Apps          kumo.AppService
	Tokens        kumo.TokenService
	Things        kumo.ThingService
	Users         kumo.UserService
	Groups        kumo.GroupService
	Objects       kumo.ObjectService
	Buckets       kumo.BucketService
	Installations kumo.InstallationService
	Subscriptions kumo.SubscriptionService
	AppParams     kumo.AppParamsService
	PushConfigs   kumo.PushConfigService
	ACLs          kumo.ACLService
	ThingQueries  kumo.ThingQueryService
	UserQueries   kumo.UserQueryService
	Messages      kumo.MessageService
	Ledger        kumo.DeliveryLedger
	Bodies        kumo.BodyService
	Topics        kumo.TopicService
	Onboardings   kumo.OnboardingService
	Gateways      kumo.GatewayService
	States        kumo.StateService
	ThingTypes    kumo.ThingTypeService
	Traits        kumo.TraitService
	Triggers      kumo.TriggerService // Thing-IF triggers
	Commands      kumo.CommandService

	// Server code (servercode.go): ServerCodeVersions manages the
	// versions; ServerCode checks scripts at deployment and runs
	// endpoints (nil: deployment and execution answer 503).
	ServerCodeVersions kumo.ServerCodeService
	ServerCode         kumo.ServerCodeRunner

	MQTT MQTTSettings
	Log  *slog.Logger

	// Addr is the address to listen on (host:port; port 0 picks one).
	Addr string

	// BodyReadWindow and BodyMinBytes are the minimum rate of request
	// bodies: at least BodyMinBytes within each BodyReadWindow, or 408
	// REQUEST_TIMEOUT and the connection closed (bodyReader). Defaults:
	// DefaultBodyReadWindow, DefaultBodyMinBytes.
	BodyReadWindow time.Duration
	BodyMinBytes   int64
	// IdleTimeout closes a keep-alive connection idle that long
	// (DefaultIdleTimeout when 0).
	IdleTimeout time.Duration

	// LoginThrottle is how many failed logins (POST …/oauth2/token, and
	// wrong passwords given to POST …/things/{thing}/ownership and PUT
	// …/users/{user}/password) a source address may make within LoginThrottleWindow before its logins
	// are refused with 429 TOO_MANY_REQUESTS for a growing time (throttle);
	// 0 turns the throttle off. LoginThrottleWindow is
	// DefaultLoginThrottleWindow when 0.
	LoginThrottle       int
	LoginThrottleWindow time.Duration

	throttle *throttle.Throttle // failed logins by source address; nil when off
	handler  http.Handler       // built by the first call of Handler

	ln    net.Listener
	http  *http.Server
	mux   *http.ServeMux
	conns atomic.Int64 // open connections
}

// Open listens on Addr and starts serving.
func (s *Server) Open() error {
	if s.Log == nil {
		s.Log = slog.Default()
	}
	ln, err := net.Listen("tcp", s.Addr)
	if err != nil {
		return err
	}
	s.ln = ln
	ln = http10Listener{countingListener{ln, &s.conns}}
	s.http = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       cmp.Or(s.IdleTimeout, DefaultIdleTimeout),
		ErrorLog:          slog.NewLogLogger(s.Log.Handler(), slog.LevelWarn),
	}
	go func() {
		if err := s.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.Log.Error("http server stopped", "error", err)
		}
	}()
	return nil
}

// ListenAddr returns the address the server listens on.
func (s *Server) ListenAddr() net.Addr { return s.ln.Addr() }

// Close stops accepting connections and waits for in-flight requests to
// finish, until ctx is done: then it closes the connections of the clients
// still there (a slow upload or download), and says how many in one log
// line. It fails only when the server cannot be stopped.
func (s *Server) Close(ctx context.Context) error {
	if s.http == nil {
		return nil
	}
	err := s.http.Shutdown(ctx)
	if err == nil || ctx.Err() == nil {
		return err
	}
	open := s.conns.Load()
	if err := s.http.Close(); err != nil {
		return err
	}
	s.Log.Warn("shutdown timeout reached: closed the connections of clients whose requests had not finished", "connections", open)
	return nil
}

// Handler returns the API's http.Handler: the same one on every call
// (HTTP and REST over MQTT share its login throttle).
func (s *Server) Handler() http.Handler {
	if s.handler != nil {
		return s.handler
	}
	if s.Log == nil {
		s.Log = slog.Default()
	}
	if s.LoginThrottle > 0 {
		s.throttle = newThrottle(s.LoginThrottle, cmp.Or(s.LoginThrottleWindow, DefaultLoginThrottleWindow))
	}
	s.mux = http.NewServeMux()
	s.routes()
	s.handler = http.HandlerFunc(s.serveHTTP)
	return s.handler
}

// handler is an API handler: it returns an error instead of writing one.
type handler func(w http.ResponseWriter, r *http.Request, c kumo.Caller) error

func (s *Server) routes() {
	m := s.mux
	m.HandleFunc("POST /api/oauth2/token", s.headerApp(s.throttled(kumo.ErrInvalidGrant, s.handleToken)))
	m.HandleFunc("POST /api/apps/{appID}/oauth2/token", s.app(s.throttled(kumo.ErrInvalidGrant, s.handleToken)))

	m.HandleFunc("GET /api/apps/{appID}/configuration/parameters", s.app(s.handleAppParams))
	m.HandleFunc("PATCH /api/apps/{appID}/configuration/parameters", s.app(s.handleAppParamsUpdate))
	m.HandleFunc("POST /api/apps/{appID}/configuration/parameters", s.app(s.handleAppParamsUpdate))
	m.HandleFunc("GET /api/apps/{appID}/configuration/push", s.app(s.handlePushConfig))
	m.HandleFunc("PUT /api/apps/{appID}/configuration/push", s.app(s.handlePushConfigPut))
	m.HandleFunc("DELETE /api/apps/{appID}/configuration/push", s.app(s.handlePushConfigDelete))

	m.HandleFunc("POST /api/apps/{appID}/things", s.app(s.handleThingRegister))
	m.HandleFunc("POST /api/apps/{appID}/things/query", s.app(s.handleThingQuery))
	m.HandleFunc("GET /api/apps/{appID}/things/{thing}", s.app(s.handleThingGet))
	m.HandleFunc("PATCH /api/apps/{appID}/things/{thing}", s.app(s.handleThingUpdate))
	m.HandleFunc("POST /api/apps/{appID}/things/{thing}", s.app(s.handleThingPost))
	m.HandleFunc("DELETE /api/apps/{appID}/things/{thing}", s.app(s.handleThingDelete))
	m.HandleFunc("GET /api/apps/{appID}/things/{thing}/status", s.app(s.handleThingStatus))
	m.HandleFunc("PUT /api/apps/{appID}/things/{thing}/status", s.app(s.handleThingSetStatus))
	m.HandleFunc("GET /api/apps/{appID}/things/{thing}/vendor-thing-id", s.app(s.handleVendorThingIDGet))
	m.HandleFunc("PUT /api/apps/{appID}/things/{thing}/vendor-thing-id", s.app(s.handleVendorThingIDPut))
	m.HandleFunc("PUT /api/apps/{appID}/things/{thing}/password", s.app(s.handleThingPassword))
	m.HandleFunc("POST /api/apps/{appID}/things/{thing}/ownership", s.app(s.throttled(kumo.ErrWrongPassword, s.handleOwnershipAdd)))
	m.HandleFunc("GET /api/apps/{appID}/things/{thing}/ownership", s.app(s.handleOwnershipGet))
	m.HandleFunc("PUT /api/apps/{appID}/things/{thing}/ownership/{owner}", s.owner(s.handleOwnerPut))
	m.HandleFunc("HEAD /api/apps/{appID}/things/{thing}/ownership/{owner}", s.owner(s.handleOwnerHead))
	m.HandleFunc("DELETE /api/apps/{appID}/things/{thing}/ownership/{owner}", s.owner(s.handleOwnerDelete))
	m.HandleFunc("POST /api/apps/{appID}/things/{thing}/ownership/request/{owner}", s.owner(s.handleOwnershipRequest))
	m.HandleFunc("POST /api/apps/{appID}/things/{thing}/ownership/confirm", s.app(s.handleOwnershipConfirm))
	m.HandleFunc("POST /api/apps/{appID}/users", s.app(s.handleUserRegister))
	m.HandleFunc("POST /api/apps/{appID}/users/query", s.app(s.handleUserQuery))
	m.HandleFunc("GET /api/apps/{appID}/users/{user}", s.app(s.handleUserGet))
	m.HandleFunc("POST /api/apps/{appID}/users/{user}", s.app(s.handleUserUpdate))
	m.HandleFunc("DELETE /api/apps/{appID}/users/{user}", s.app(s.handleUserDelete))
	m.HandleFunc("PUT /api/apps/{appID}/users/{user}/password", s.app(s.throttled(kumo.ErrWrongPassword, s.handleUserPassword)))
	m.HandleFunc("POST /api/apps/{appID}/users/{user}/push/messages", s.app(s.handleDirectPush(kumo.UserCaller, "user")))
	m.HandleFunc("POST /api/apps/{appID}/things/{thing}/push/messages", s.app(s.handleDirectPush(kumo.ThingCaller, "thing")))
	m.HandleFunc("POST /api/apps/{appID}/groups", s.app(s.handleGroupCreate))
	m.HandleFunc("GET /api/apps/{appID}/groups", s.app(s.handleGroupList))
	m.HandleFunc("PUT /api/apps/{appID}/groups/{group}", s.app(s.handleGroupPut))
	m.HandleFunc("GET /api/apps/{appID}/groups/{group}", s.app(s.handleGroupGet))
	m.HandleFunc("DELETE /api/apps/{appID}/groups/{group}", s.app(s.handleGroupDelete))
	m.HandleFunc("PUT /api/apps/{appID}/groups/{group}/name", s.app(s.handleGroupName))
	m.HandleFunc("PUT /api/apps/{appID}/groups/{group}/owner", s.app(s.handleGroupOwner))
	m.HandleFunc("GET /api/apps/{appID}/groups/{group}/members", s.app(s.handleGroupMembers))
	m.HandleFunc("PUT /api/apps/{appID}/groups/{group}/members/{user}", s.app(s.handleGroupMemberAdd))
	m.HandleFunc("DELETE /api/apps/{appID}/groups/{group}/members/{user}", s.app(s.handleGroupMemberRemove))

	m.HandleFunc("GET /api/x/{publication}", s.handlePublication)

	m.HandleFunc("GET /api/apps/{appID}/push/deliveries", s.app(s.handleDeliveries))
	m.HandleFunc("POST /api/apps/{appID}/installations", s.app(s.handleInstallationCreate))
	m.HandleFunc("GET /api/apps/{appID}/installations/{installation}", s.app(s.handleInstallationGet))
	m.HandleFunc("DELETE /api/apps/{appID}/installations/{installation}", s.app(s.handleInstallationDelete))
	m.HandleFunc("GET /api/apps/{appID}/installations/{installation}/mqtt-endpoint", s.app(s.handleMQTTEndpoint))

	m.HandleFunc("POST /thing-if/apps/{appID}/onboardings", s.app(s.throttled(kumo.ErrWrongPassword, s.handleOnboarding)))

	// server code: scapi (servercode.go; "current" is a literal segment,
	// more specific than {version}).
	serverCode := "/api/apps/{appID}/server-code"
	m.HandleFunc("POST "+serverCode, s.app(s.handleServerCodeDeploy))
	m.HandleFunc("GET "+serverCode+"/versions", s.app(s.handleServerCodeVersions))
	m.HandleFunc("GET "+serverCode+"/versions/{version}", s.app(s.handleServerCodeScript))
	m.HandleFunc("DELETE "+serverCode+"/versions/{version}", s.app(s.handleServerCodeDelete))
	m.HandleFunc("PUT "+serverCode+"/versions/current", s.app(s.handleServerCodeCurrentPut))
	m.HandleFunc("GET "+serverCode+"/versions/current", s.app(s.handleServerCodeCurrentGet))
	m.HandleFunc("DELETE "+serverCode+"/versions/current", s.app(s.handleServerCodeCurrentDelete))
	m.HandleFunc("POST "+serverCode+"/versions/{version}/{endpoint}", s.app(s.handleServerCodeExecute))
	m.HandleFunc("PUT /api/apps/{appID}/hooks/versions/{version}", s.app(s.handleHookConfigPut))
	m.HandleFunc("GET /api/apps/{appID}/hooks/versions/{version}", s.app(s.handleHookConfigGet))
	m.HandleFunc("HEAD /api/apps/{appID}/hooks/versions/{version}", s.app(s.handleHookConfigGet))
	m.HandleFunc("DELETE /api/apps/{appID}/hooks/versions/{version}", s.app(s.handleHookConfigDelete))

	// Gateways and end nodes, thing info (issue 12 item 7 and item 4's
	// firmware version and thing type).
	m.HandleFunc("GET /thing-if/apps/{appID}/things/{gw}/end-nodes", s.app(s.handleEndNodes))
	m.HandleFunc("PUT /thing-if/apps/{appID}/things/{gw}/end-nodes/{en}/connection", s.app(s.handleEndNodeConnection))
	m.HandleFunc("PUT /api/apps/{appID}/things/{gw}/end-nodes/{en}", s.app(s.handleEndNodeAdd))
	m.HandleFunc("DELETE /api/apps/{appID}/things/{gw}/end-nodes/{en}", s.app(s.handleEndNodeRemove))
	m.HandleFunc("POST /api/apps/{appID}/things/{gw}/end-nodes/{en}/token", s.app(s.handleEndNodeToken))
	m.HandleFunc("GET /thing-if/apps/{appID}/things/{thing}/firmware-version", s.app(s.handleThingInfoGet(firmwareVersionInfo)))
	m.HandleFunc("PUT /thing-if/apps/{appID}/things/{thing}/firmware-version", s.app(s.handleThingInfoPut(firmwareVersionInfo)))
	m.HandleFunc("GET /thing-if/apps/{appID}/things/{thing}/thing-type", s.app(s.handleThingInfoGet(thingTypeInfo)))
	m.HandleFunc("PUT /thing-if/apps/{appID}/things/{thing}/thing-type", s.app(s.handleThingInfoPut(thingTypeInfo)))
	// Thing-IF states and their history (issue 12 item 4), and the
	// Thing-IF configuration: thing types, firmware versions, traits,
	// aliases (item 5).
	states := "/thing-if/apps/{appID}/targets/{target}/states"
	m.HandleFunc("PUT "+states, s.app(s.handleStatePut))
	m.HandleFunc("PATCH "+states, s.app(s.handleStatePatch))
	m.HandleFunc("GET "+states, s.app(s.handleStateGet))
	m.HandleFunc("POST "+states+"/query", s.app(s.handleStateQuery))
	m.HandleFunc("PUT "+states+"/aliases/{alias}", s.app(s.handleStateAliasPut))
	m.HandleFunc("GET "+states+"/aliases/{alias}", s.app(s.handleStateGet))
	m.HandleFunc("POST "+states+"/aliases/{alias}/query", s.app(s.handleStateQuery))
	m.HandleFunc("POST /thing-if/apps/{appID}/targets/{target}/states-bulk", s.app(s.handleStatesBulk))
	thingType := "/api/apps/{appID}/configuration/thing-types/{thingType}"
	m.HandleFunc("GET /api/apps/{appID}/configuration/thing-types", s.app(s.handleThingTypeList))
	m.HandleFunc("PUT "+thingType, s.app(s.handleThingTypePut))
	m.HandleFunc("GET "+thingType, s.app(s.handleThingTypeGet))
	m.HandleFunc("DELETE "+thingType, s.app(s.handleThingTypeDelete))
	m.HandleFunc("GET "+thingType+"/firmware-versions", s.app(s.handleFirmwareVersionList))
	m.HandleFunc("PUT "+thingType+"/firmware-versions/{firmwareVersion}", s.app(s.handleFirmwareVersionPut))
	m.HandleFunc("DELETE "+thingType+"/firmware-versions/{firmwareVersion}", s.app(s.handleFirmwareVersionDelete))
	aliases := "/thing-if/apps/{appID}/configuration/thing-types/{thingType}/firmware-versions/{firmwareVersion}/aliases"
	m.HandleFunc("GET "+aliases, s.app(s.handleTraitAliasList))
	m.HandleFunc("PUT "+aliases+"/{alias}", s.app(s.handleTraitAliasPut))
	m.HandleFunc("GET "+aliases+"/{alias}", s.app(s.handleTraitAliasGet))
	m.HandleFunc("DELETE "+aliases+"/{alias}", s.app(s.handleTraitAliasDelete))
	traits := "/thing-if/apps/{appID}/traits/{trait}/versions"
	m.HandleFunc("POST "+traits, s.app(s.handleTraitVersionCreate))
	m.HandleFunc("GET "+traits, s.app(s.handleTraitVersionList))
	m.HandleFunc("GET "+traits+"/{version}", s.app(s.handleTraitVersionGet))
	m.HandleFunc("PUT "+traits+"/{version}", s.app(s.handleTraitVersionPut))
	m.HandleFunc("PUT "+traits+"/{version}/finalize", s.app(s.handleTraitVersionFinalize))
	m.HandleFunc("POST "+traits+"/{version}/finalize", s.app(s.handleTraitVersionFinalize))
	// Thing-IF triggers (trigger.go).
	m.HandleFunc("POST /thing-if/apps/{appID}/targets/{target}/triggers", s.app(s.handleTriggerCreate))
	m.HandleFunc("GET /thing-if/apps/{appID}/targets/{target}/triggers", s.app(s.handleTriggerList))
	m.HandleFunc("GET /thing-if/apps/{appID}/targets/{target}/triggers/{triggerID}", s.app(s.handleTriggerGet))
	m.HandleFunc("PATCH /thing-if/apps/{appID}/targets/{target}/triggers/{triggerID}", s.app(s.handleTriggerPatch))
	m.HandleFunc("DELETE /thing-if/apps/{appID}/targets/{target}/triggers/{triggerID}", s.app(s.handleTriggerDelete))
	m.HandleFunc("PUT /thing-if/apps/{appID}/targets/{target}/triggers/{triggerID}/enable", s.app(s.handleTriggerEnable(true)))
	m.HandleFunc("PUT /thing-if/apps/{appID}/targets/{target}/triggers/{triggerID}/disable", s.app(s.handleTriggerEnable(false)))
	m.HandleFunc("GET /thing-if/apps/{appID}/targets/{target}/triggers/{triggerID}/results/server-code", s.app(s.handleTriggerServerCodeResults))
	// Thing-IF commands (issue 12, item 3).
	m.HandleFunc("POST /thing-if/apps/{appID}/targets/{target}/commands", s.app(s.handleCommandCreate))
	m.HandleFunc("GET /thing-if/apps/{appID}/targets/{target}/commands", s.app(s.handleCommandList))
	m.HandleFunc("GET /thing-if/apps/{appID}/targets/{target}/commands/{commandID}", s.app(s.handleCommandGet))
	m.HandleFunc("PUT /thing-if/apps/{appID}/targets/{target}/commands/{commandID}/action-results", s.app(s.handleActionResults))

	for _, sc := range []struct {
		prefix string
		kind   kumo.ScopeKind
	}{
		{"", kumo.ScopeApp},
		{"/users/{scopeID}", kumo.ScopeUser},
		{"/groups/{scopeID}", kumo.ScopeGroup},
		{"/things/{scopeID}", kumo.ScopeThing},
	} {
		bucket := "/api/apps/{appID}" + sc.prefix + "/buckets/{bucket}"
		kind := sc.kind
		s.aclRoutes("/api/apps/{appID}"+sc.prefix, s.scopeACL(kind))
		s.topicRoutes("/api/apps/{appID}"+sc.prefix, kind)
		m.HandleFunc("GET /api/apps/{appID}"+sc.prefix+"/buckets", s.app(s.handleBucketList(kind)))
		m.HandleFunc("HEAD "+bucket, s.bucket(kind, s.handleBucketHead))
		s.aclRoutes(bucket, s.bucketACL(kind, false))
		s.aclRoutes(bucket+"/objects/{object}", s.bucketACL(kind, true))
		m.HandleFunc("GET "+bucket, s.bucket(kind, s.handleBucketGet))
		m.HandleFunc("PUT "+bucket, s.bucket(kind, s.handleBucketCreate))
		m.HandleFunc("DELETE "+bucket, s.bucket(kind, s.handleBucketDelete))
		m.HandleFunc("POST "+bucket+"/query", s.bucket(kind, s.handleQuery))
		m.HandleFunc("POST "+bucket+"/objects", s.bucket(kind, s.handleObjectCreate))
		m.HandleFunc("GET "+bucket+"/objects/{object}", s.bucket(kind, s.handleObjectGet))
		m.HandleFunc("PUT "+bucket+"/objects/{object}", s.bucket(kind, s.handleObjectPut))
		m.HandleFunc("PATCH "+bucket+"/objects/{object}", s.bucket(kind, s.handleObjectPatch))
		m.HandleFunc("POST "+bucket+"/objects/{object}", s.bucket(kind, s.handleObjectPost))
		m.HandleFunc("DELETE "+bucket+"/objects/{object}", s.bucket(kind, s.handleObjectDelete))

		body := bucket + "/objects/{object}/body"
		m.HandleFunc("PUT "+body, s.bucket(kind, s.handleBodyPut))
		m.HandleFunc("GET "+body, s.bucket(kind, s.handleBodyGet))
		m.HandleFunc("HEAD "+body, s.bucket(kind, s.handleBodyHead))
		m.HandleFunc("DELETE "+body, s.bucket(kind, s.handleBodyDelete))
		m.HandleFunc("POST "+body+"/publish", s.bucket(kind, s.handleBodyPublish))
		m.HandleFunc("POST "+body+"/move", s.bucket(kind, s.handleBodyMove))
		m.HandleFunc("POST "+body+"/uploads", s.bucket(kind, s.handleUploadStart))
		m.HandleFunc("PUT "+body+"/uploads/{upload}/data", s.bucket(kind, s.handleUploadData))
		m.HandleFunc("POST "+body+"/uploads/{upload}/status/committed", s.bucket(kind, s.handleUploadCommit))
		m.HandleFunc("POST "+body+"/uploads/{upload}/status/cancelled", s.bucket(kind, s.handleUploadCancel))

		subs := bucket + "/filters/{filter}/push/subscriptions/"
		for _, p := range subscriberKinds {
			m.HandleFunc("PUT "+subs+p.segment+"/{subscriber}", s.bucket(kind, s.subscription(p.kind, s.handleSubscribe)))
			m.HandleFunc("POST "+subs+p.segment, s.bucket(kind, s.subscription(p.kind, s.handleSubscribe)))
			m.HandleFunc("GET "+subs+p.segment+"/{subscriber}", s.bucket(kind, s.subscription(p.kind, s.handleSubscribed)))
			m.HandleFunc("DELETE "+subs+p.segment+"/{subscriber}", s.bucket(kind, s.subscription(p.kind, s.handleUnsubscribe)))
		}
	}
}

// serveHTTP applies the cross-cutting rules, then routes.
func (s *Server) serveHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.Log.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", v)
			s.writeError(w, r, kumo.Errorf(kumo.ErrInternal, "An internal error occurred"))
		}
	}()
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Expose-Headers", "ETag, Location, Content-Range, Last-Modified, X-MQTT-TTL, Retry-After")
	if r.Method == http.MethodOptions {
		h.Set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS")
		if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
			h.Set("Access-Control-Allow-Headers", req)
		}
		h.Set("Access-Control-Max-Age", "86400")
		w.WriteHeader(http.StatusNoContent)
		return
	}
	h.Set("X-Content-Type-Options", "nosniff") // see bodyCSP
	if r.Body != nil && r.Body != http.NoBody {
		body, br := r.Body, s.newBodyReader(w, r)
		r.Body = br
		// After the handler, net/http decides what becomes of a body it
		// left unread: it must see its own reader, or it waits for the
		// body before answering, even from a client that waits for
		// "100 Continue" first. It then reads what is left of the body
		// (up to 256 KB) to reuse the connection: for a second at most,
		// after which the connection is closed.
		defer func() {
			if !br.done {
				br.rc.SetReadDeadline(time.Now().Add(unreadBodyGrace))
			}
			r.Body = body
		}()
	}
	cleanPath(r.URL)
	if _, pattern := s.mux.Handler(r); pattern == "" {
		s.notRouted(w, r)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// cleanPath collapses repeated slashes ("/api/apps/a//buckets", sent by
// kii_go) and drops a trailing slash ("/groups/?is_member=", sent by the JS
// SDK), so that routing never redirects.
func cleanPath(u *url.URL) {
	p := u.EscapedPath()
	if !strings.Contains(p, "//") && (len(p) <= 1 || !strings.HasSuffix(p, "/")) {
		return
	}
	for strings.Contains(p, "//") {
		p = strings.ReplaceAll(p, "//", "/")
	}
	if len(p) > 1 {
		p = strings.TrimSuffix(p, "/")
	}
	if up, err := url.PathUnescape(p); err == nil {
		u.Path, u.RawPath = up, p
	}
}

// notRouted answers a request that matches no route: 405 when the path
// exists with other methods, else 404, both in Kii's format.
func (s *Server) notRouted(w http.ResponseWriter, r *http.Request) {
	for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE"} {
		probe := r.Clone(r.Context())
		probe.Method = m
		if _, pattern := s.mux.Handler(probe); pattern != "" {
			s.writeError(w, r, kumo.Errorf(kumo.ErrMethodNotAllowed, "Method %s is not allowed on %s", r.Method, r.URL.Path))
			return
		}
	}
	s.writeError(w, r, kumo.Errorf(kumo.ErrNotFound, "No API at %s %s", r.Method, r.URL.Path))
}

// app wraps a handler of /api/apps/{appID}/...: the app comes from the
// path (its ID, or its key in place of the ID), the caller from the
// Authorization header. App headers are never required nor validated.
func (s *Server) app(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		s.serveApp(w, r, r.PathValue("appID"), h)
	}
}

// headerApp wraps a handler of a path without an app segment: the app
// comes from X-Kii-AppID (any case) or from Basic credentials.
func (s *Server) headerApp(h handler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		appID := r.Header.Get("X-Kii-AppID")
		if appID == "" {
			appID = auth.ParseAuthorization(r.Header.Get("Authorization")).BasicAppID
		}
		if appID == "" {
			s.writeError(w, r, kumo.Errorf(kumo.ErrAppNotFound, "The application is not identified: send X-Kii-AppID"))
			return
		}
		s.serveApp(w, r, appID, h)
	}
}

func (s *Server) serveApp(w http.ResponseWriter, r *http.Request, appIDOrKey string, h handler) {
	ctx := r.Context()
	app, err := s.Apps.FindApp(ctx, appIDOrKey)
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	c := kumo.Caller{AppID: app.ID, Kind: kumo.Anonymous}
	if cred := auth.ParseAuthorization(r.Header.Get("Authorization")); cred.Bearer != "" {
		c, err = s.Tokens.Authenticate(ctx, app.ID, cred.Bearer)
		if err != nil {
			s.writeError(w, r, err)
			return
		}
	}
	if err := h(w, r, c); err != nil {
		s.writeError(w, r, err)
	}
}

// bucketHandler is a handler of a bucket path.
type bucketHandler func(w http.ResponseWriter, r *http.Request, c kumo.Caller, b kumo.BucketRef) error

// bucket wraps a handler of {scope}/buckets/{bucket}/...: it validates the
// bucket name and builds the bucket reference (the scope ID may still be a
// selector such as VENDOR_THING_ID:x; the services resolve it).
func (s *Server) bucket(kind kumo.ScopeKind, h bucketHandler) http.HandlerFunc {
	return s.app(func(w http.ResponseWriter, r *http.Request, c kumo.Caller) error {
		name, err := kumo.ParseBucketName(r.PathValue("bucket"))
		if err != nil {
			return err
		}
		b := kumo.BucketRef{AppID: c.AppID, Scope: kumo.Scope{Kind: kind, ID: r.PathValue("scopeID")}, Name: name}
		return h(w, r, c, b)
	})
}

// baseURL returns the scheme and host the client used to reach the API.
func baseURL(r *http.Request) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	if p := r.Header.Get("X-Forwarded-Proto"); p == "https" || p == "http" {
		scheme = p
	}
	return scheme + "://" + r.Host
}

// bestEffortLimit reads ?bestEffortLimit= (0 when absent: the default).
func bestEffortLimit(r *http.Request) (int, error) {
	v := r.URL.Query().Get("bestEffortLimit")
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		return 0, kumo.InvalidInput(map[string]string{"bestEffortLimit": "must be a positive integer"})
	}
	return n, nil
}

// writePage writes a page of a Thing-IF list: 200 {key: items}, with
// "nextPaginationKey" only when more follow (push-mqtt §10.19).
func writePage(w http.ResponseWriter, mediaType, key string, items any, next string) error {
	out := map[string]any{key: items}
	if next != "" {
		out["nextPaginationKey"] = next
	}
	writeJSON(w, http.StatusOK, mediaType, out)
	return nil
}

// noContent writes 204.
func noContent(w http.ResponseWriter) error {
	w.WriteHeader(http.StatusNoContent)
	return nil
}
