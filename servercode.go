package kumo

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// Server code is an app's JavaScript: endpoints called over REST, server
// hooks run on changes and on a schedule, and Thing-IF SERVER_CODE
// triggers (spec server-code.md).

// Server code error codes (the names of the NOT_FOUND codes are Kumo's:
// Kii's are not documented, docs/compat.md).
const (
	ErrEndpointInvocation        Code = "ENDPOINT_INVOCATION_ERROR" // the code threw or a limit stopped it (400)
	ErrOperationNotAllowed       Code = "OPERATION_NOT_ALLOWED"     // server code executing server code (409)
	ErrServerCodeVersionNotFound Code = "SERVER_CODE_VERSION_NOT_FOUND"
	ErrHookConfigNotFound        Code = "HOOK_CONFIGURATION_NOT_FOUND"
	ErrScheduleExecutionNotFound Code = "SCHEDULE_EXECUTION_NOT_FOUND"
)

// CurrentVersion is the pseudo version ID naming the current version in
// paths ("…/server-code/versions/current/{endpoint}").
const CurrentVersion = "current"

// Environment versions: the Node.js generation a version was deployed
// for. Kumo records and echoes them; one engine runs both.
const (
	EnvironmentV0 = "0"
	EnvironmentV6 = "6"
)

// ServerCodeVersion is one deployed version of an app's server code (its
// script is read apart: ServerCodeService.Script).
type ServerCodeVersion struct {
	ID                 string `json:"versionID"`
	CreatedAt          int64  `json:"createdAt"`
	ModifiedAt         int64  `json:"modifiedAt"`
	Current            bool   `json:"current"`
	EnvironmentVersion string `json:"environmentVersion"`
}

// ServerCodeService deploys and manages an app's server code versions and
// their hook configurations. Only the app admin may use it.
type ServerCodeService interface {
	// Deploy stores a new version of the app's script (never current by
	// itself) and returns it.
	Deploy(ctx context.Context, c Caller, script, environmentVersion string) (ServerCodeVersion, error)
	// Versions lists the app's versions.
	Versions(ctx context.Context, c Caller) ([]ServerCodeVersion, error)
	// Script returns a version's script as it was uploaded.
	Script(ctx context.Context, c Caller, versionID string) (string, error)
	// DeleteVersion deletes a version and its hook configuration.
	DeleteVersion(ctx context.Context, c Caller, versionID string) error
	// SetCurrent makes a version the current one.
	SetCurrent(ctx context.Context, c Caller, versionID string) error
	// Current returns the current version's ID (SERVER_CODE_VERSION_NOT_FOUND when none).
	Current(ctx context.Context, c Caller) (string, error)
	// ClearCurrent leaves the app without a current version.
	ClearCurrent(ctx context.Context, c Caller) error
	// PutHookConfig attaches (or replaces) a version's hook configuration.
	PutHookConfig(ctx context.Context, c Caller, versionID string, cfg HookConfig) error
	// HookConfig returns a version's hook configuration.
	HookConfig(ctx context.Context, c Caller, versionID string) (HookConfig, error)
	// DeleteHookConfig removes a version's hook configuration.
	DeleteHookConfig(ctx context.Context, c Caller, versionID string) error
	// LoadVersion returns, for running it (no caller check: anyone may
	// execute), a version ("current" or an ID) and its script.
	LoadVersion(ctx context.Context, appID, version string) (ServerCodeVersion, string, error)
}

// ServerCodeTrigger says why server code runs.
type ServerCodeTrigger string

// Why server code runs.
const (
	RunManual   ServerCodeTrigger = "manual"   // an endpoint called over REST
	RunHook     ServerCodeTrigger = "hook"     // a server hook on a change
	RunSchedule ServerCodeTrigger = "schedule" // a scheduled job
	RunThingIF  ServerCodeTrigger = "thing-if" // a Thing-IF SERVER_CODE trigger
)

// ServerCodeCall is one run of an endpoint.
type ServerCodeCall struct {
	AppID    string
	Version  string // a version ID, or CurrentVersion
	Endpoint string
	// Params is the JSON object given to the endpoint as params.
	Params json.RawMessage
	// Token is what context.getAccessToken() returns ("" is null).
	Token string
	// Actor, when Token is "", is the user whose change a hook runs on:
	// context.getAccessToken() then returns a short-lived token of that
	// user, issued only if the code asks for it.
	Actor Principal
	// Environment is "0" or "6" to override the version's own ("" keeps it).
	Environment string
	Trigger     ServerCodeTrigger
	// Caller is who called (a manual run), for the developer log.
	Caller Caller
	// RemoteAddr is the network address of the client that called (a
	// manual run; "" otherwise): the requests the code makes come from
	// it, so that its logins count against that client's throttle.
	RemoteAddr string
}

// ServerCodeResult is what a run gave.
type ServerCodeResult struct {
	VersionID   string
	Environment string // the environment version that ran it
	// ReturnedValue is the JSON of the value the endpoint returned or
	// passed to done; nil when it was undefined.
	ReturnedValue json.RawMessage
	Steps         int   // statements executed (X-Step-count)
	DurationMs    int64 // wall time of the run
	// Err is set when the code threw or a limit stopped it.
	Err *ServerCodeError
}

// ServerCodeError is why server code failed: in an execution's 400
// ENDPOINT_INVOCATION_ERROR answer and in a trigger's results.
type ServerCodeError struct {
	ErrorMessage string                 `json:"errorMessage"`
	Details      ServerCodeErrorDetails `json:"details"`
}

// ServerCodeErrorDetails is the cause: RUNTIME_ERROR for an exception, or
// one of Kumo's limit codes.
type ServerCodeErrorDetails struct {
	ErrorCode string `json:"errorCode"`
	Message   string `json:"message"`
}

// ServerCodeErrorMessage is the errorMessage of every ServerCodeError:
// Kii's words.
const ServerCodeErrorMessage = "Error found while executing the developer-defined code"

// ServerCodeRunner runs server code.
type ServerCodeRunner interface {
	// Check rejects, at deployment, a script that does not parse or uses
	// what Kii forbids (INVALID_INPUT_DATA).
	Check(script string) error
	// Run runs an endpoint of a version. Its error is a failure to start
	// it (no such version, a bad endpoint name, params too large); what
	// the code itself did wrong is in the result's Err.
	Run(ctx context.Context, call ServerCodeCall) (ServerCodeResult, error)
}

type serverCodeKey struct{}

// WithServerCode marks ctx as that of server code run for trigger t: the
// writes it makes through Kumo's API carry it.
func WithServerCode(ctx context.Context, t ServerCodeTrigger) context.Context {
	return context.WithValue(ctx, serverCodeKey{}, t)
}

// ServerCodeFrom says whether ctx is that of running server code, and why
// it runs. Server code may not execute server code (409
// OPERATION_NOT_ALLOWED), and writes made by a hook or a scheduled job
// fire no hooks (HooksSuppressed).
func ServerCodeFrom(ctx context.Context) (ServerCodeTrigger, bool) {
	t, ok := ctx.Value(serverCodeKey{}).(ServerCodeTrigger)
	return t, ok
}

// HooksSuppressed reports whether writes made under ctx fire no server
// hooks: they are made by server code a hook or a schedule runs.
func HooksSuppressed(ctx context.Context) bool {
	t, ok := ServerCodeFrom(ctx)
	return ok && (t == RunHook || t == RunSchedule)
}

// Hook configuration (spec §4.1): keys are paths; a trigger path maps to
// an array of hooks, "kiicloud://scheduler" to an object of named jobs.

// SchedulerPath is the hook configuration key of scheduled jobs.
const SchedulerPath = "kiicloud://scheduler"

// ExecuteServerCode is the only "what" of a hook.
const ExecuteServerCode = "EXECUTE_SERVER_CODE"

// HookConfig is a version's hook configuration.
type HookConfig struct {
	// Raw is the configuration as uploaded (GET returns it).
	Raw       json.RawMessage
	Triggers  []TriggerHook
	Schedules []ScheduleJob // sorted by name
}

// TriggerHook runs an endpoint when an event happens on a path.
type TriggerHook struct {
	Path     string // e.g. kiicloud://users, kiicloud://groups/*/buckets/b
	When     string // e.g. USER_CREATED, DATA_OBJECT_UPDATED
	Endpoint string
}

// ScheduleJob runs an endpoint on a cron schedule (UTC).
type ScheduleJob struct {
	Name       string
	CronSpec   string
	Cron       Cron
	Endpoint   string
	Parameters json.RawMessage // a JSON object; {} when absent
}

// Events a hook may run on, by path kind (spec §4.2).
var (
	bucketHookEvents       = []string{"DATA_OBJECT_CREATED", "DATA_OBJECT_UPDATED", "DATA_OBJECT_DELETED", "DATA_OBJECT_BODY_UPDATED", "DATA_OBJECT_BODY_DELETED", "DATA_OBJECT_BODY_PUBLISHED"}
	userHookEvents         = []string{"USER_CREATED", "USER_EMAIL_VERIFIED", "USER_PHONE_VERIFIED", "USER_PASSWORD_RESET_COMPLETED", "USER_PASSWORD_CHANGED", "USER_DELETED", "USER_UPDATED"}
	groupHookEvents        = []string{"GROUP_CREATED", "GROUP_DELETED", "GROUP_MEMBERS_ADDED", "GROUP_MEMBERS_REMOVED"}
	thingHookEvents        = []string{"THING_CREATED", "THING_DELETED", "THING_ENABLED", "THING_DISABLED", "THING_UPDATED"}
	installationHookEvents = []string{"INSTALLATION_CREATED", "INSTALLATION_DELETED"}
)

var (
	bucketHookPath = regexp.MustCompile(`^kiicloud://(?:(?:users|groups|things)/\*/)?buckets/([^/]+)$`)
	endpointName   = regexp.MustCompile(`^[a-zA-Z][_a-zA-Z0-9]*$`)
)

// ValidEndpointName reports whether name may name an endpoint: Kii's
// SDK allows ^[a-zA-Z][_a-zA-Z0-9]*$.
func ValidEndpointName(name string) bool { return endpointName.MatchString(name) }

// HookEvents returns the events a hook on path may run on (nil for a
// path no hook may name).
func HookEvents(path string) []string {
	switch path {
	case "kiicloud://users":
		return userHookEvents
	case "kiicloud://groups":
		return groupHookEvents
	case "kiicloud://things":
		return thingHookEvents
	case "kiicloud://installations":
		return installationHookEvents
	}
	if bucketHookPath.MatchString(path) {
		return bucketHookEvents
	}
	return nil
}

// Bounds of a hook configuration (Kumo's: Kii documents none): every
// scheduled job runs, logs and records an execution at each tick.
const (
	MaxScheduleJobs = 100
	MaxTriggerHooks = 1000
)

// ParseHookConfig reads a hook configuration (INVALID_INPUT_DATA saying
// what is wrong). Unknown keys inside a hook or a job are ignored, as Kii
// does.
func ParseHookConfig(raw []byte) (HookConfig, error) {
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(raw, &doc); err != nil || doc == nil {
		return HookConfig{}, Errorf(ErrInvalidInputData, "A hook configuration is a JSON object of paths")
	}
	cfg := HookConfig{Raw: json.RawMessage(append([]byte(nil), raw...))}
	paths := make([]string, 0, len(doc))
	for p := range doc {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, path := range paths {
		if path == SchedulerPath {
			jobs, err := parseScheduleJobs(doc[path])
			if err != nil {
				return HookConfig{}, err
			}
			cfg.Schedules = jobs
			continue
		}
		events := HookEvents(path)
		if events == nil {
			return HookConfig{}, Errorf(ErrInvalidInputData, "%q is not a path a hook may name (kiicloud://users, groups, things, installations, scheduler, or a bucket path)", path)
		}
		var hooks []struct {
			When     string `json:"when"`
			What     string `json:"what"`
			Endpoint string `json:"endpoint"`
		}
		if err := json.Unmarshal(doc[path], &hooks); err != nil {
			return HookConfig{}, Errorf(ErrInvalidInputData, "The hooks of %q are an array of {when, what, endpoint}", path)
		}
		for _, h := range hooks {
			if !contains(events, h.When) {
				return HookConfig{}, Errorf(ErrInvalidInputData, "%q is not an event of %q (one of %s)", h.When, path, strings.Join(events, ", "))
			}
			if h.What != ExecuteServerCode {
				return HookConfig{}, Errorf(ErrInvalidInputData, "A hook's what is %s, not %q", ExecuteServerCode, h.What)
			}
			if !ValidEndpointName(h.Endpoint) {
				return HookConfig{}, Errorf(ErrInvalidInputData, "%q is not an endpoint name", h.Endpoint)
			}
			cfg.Triggers = append(cfg.Triggers, TriggerHook{Path: path, When: h.When, Endpoint: h.Endpoint})
		}
	}
	if len(cfg.Schedules) > MaxScheduleJobs || len(cfg.Triggers) > MaxTriggerHooks {
		return HookConfig{}, Errorf(ErrInvalidInputData, "A hook configuration has at most %d scheduled jobs and %d hooks; this one has %d and %d",
			MaxScheduleJobs, MaxTriggerHooks, len(cfg.Schedules), len(cfg.Triggers))
	}
	return cfg, nil
}

func parseScheduleJobs(raw json.RawMessage) ([]ScheduleJob, error) {
	var jobs map[string]struct {
		What       string          `json:"what"`
		Cron       string          `json:"cron"`
		Endpoint   string          `json:"endpoint"`
		Parameters json.RawMessage `json:"parameters"`
	}
	if err := json.Unmarshal(raw, &jobs); err != nil {
		return nil, Errorf(ErrInvalidInputData, "%s is an object of named jobs {cron, endpoint, parameters, what}", SchedulerPath)
	}
	out := make([]ScheduleJob, 0, len(jobs))
	for name, j := range jobs {
		if name == "" {
			return nil, Errorf(ErrInvalidInputData, "A scheduled job needs a name")
		}
		if j.What != ExecuteServerCode {
			return nil, Errorf(ErrInvalidInputData, "Job %q: what is %s, not %q", name, ExecuteServerCode, j.What)
		}
		c, err := ParseCron(j.Cron)
		if err != nil {
			return nil, Errorf(ErrInvalidInputData, "Job %q: %v", name, err)
		}
		if !ValidEndpointName(j.Endpoint) {
			return nil, Errorf(ErrInvalidInputData, "Job %q: %q is not an endpoint name", name, j.Endpoint)
		}
		params := j.Parameters
		if len(params) == 0 || string(params) == "null" {
			params = json.RawMessage("{}")
		} else if params[0] != '{' {
			return nil, Errorf(ErrInvalidInputData, "Job %q: parameters is a JSON object", name)
		}
		out = append(out, ScheduleJob{Name: name, CronSpec: j.Cron, Cron: c, Endpoint: j.Endpoint, Parameters: params})
	}
	sort.Slice(out, func(i, k int) bool { return out[i].Name < out[k].Name })
	return out, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// HookEvent is a change that server hooks may run on. A store writes it
// in the transaction of the change, so that its hooks run at least once.
type HookEvent struct {
	AppID string
	// Path is the hook path the change is on, as a configuration names
	// it: kiicloud://users, kiicloud://groups, kiicloud://things,
	// kiicloud://installations, or a bucket's (BucketHookPath).
	Path   string
	When   string
	Params map[string]any // the endpoint's params (spec §4.3)
	Actor  Principal      // who made the change
}

// BucketHookPath is the hook path of a bucket: kiicloud://buckets/{name}
// for an app bucket, kiicloud://{users|groups|things}/*/buckets/{name}.
func BucketHookPath(b BucketRef) string {
	switch b.Scope.Kind {
	case ScopeUser:
		return "kiicloud://users/*/buckets/" + b.Name
	case ScopeGroup:
		return "kiicloud://groups/*/buckets/" + b.Name
	case ScopeThing:
		return "kiicloud://things/*/buckets/" + b.Name
	}
	return "kiicloud://buckets/" + b.Name
}

// Hooks returns the hooks of cfg that run on ev.
func (cfg HookConfig) Hooks(ev HookEvent) []TriggerHook {
	var out []TriggerHook
	for _, h := range cfg.Triggers {
		if h.Path == ev.Path && h.When == ev.When {
			out = append(out, h)
		}
	}
	return out
}

// DevLog is one record of an app's developer log (spec §5.3): a
// deployment, a run of server code, a console.log line.
type DevLog struct {
	ID          string         `json:"_id"`
	Key         string         `json:"key"`   // servercode.invoke, servercode.log, ...
	Time        int64          `json:"-"`     // epoch ms (written as ISO-8601 "time")
	Level       string         `json:"level"` // DEBUG, INFO, WARN, ERROR
	AppID       string         `json:"appID"`
	Description string         `json:"description"`
	UserID      string         `json:"userID,omitempty"`
	Fields      map[string]any `json:"-"` // key-specific fields, written beside the others
}

// String names a version for messages.
func (v ServerCodeVersion) String() string { return fmt.Sprintf("server code version %s", v.ID) }

// Server code: hooks (issue 13, part hooks). A store queues a run of
// server code in the transaction of the change that causes it (a server
// hook's event, a Thing-IF SERVER_CODE trigger's fire); a worker claims
// the runs due, runs them and completes them.

// ServerCodeJob is a queued run of server code.
type ServerCodeJob struct {
	ID      string
	AppID   string
	Trigger ServerCodeTrigger // RunHook or RunThingIF
	// Version is the version to run: the one whose hook configuration
	// named the hook, or CurrentVersion.
	Version  string
	Endpoint string
	Params   json.RawMessage // a JSON object
	// Path and When are the hook's (RunHook).
	Path, When string
	// Actor is who made the change a hook runs on (RunHook).
	Actor Principal
	// Token is a Thing-IF trigger's serverCode.executorAccessToken.
	Token string
	// TriggerAppID, ThingID and TriggerID name the Thing-IF trigger
	// (RunThingIF); TriggerAppID differs from AppID when the trigger runs
	// the code of another app (serverCode.targetAppID).
	TriggerAppID, ThingID, TriggerID string
	// Attempts counts the claims of the job, this one included.
	Attempts int
	// ClaimedUntil is when the claim of the node running it ends (epoch
	// ms): another node may claim it then.
	ClaimedUntil int64
	CreatedAt    int64 // epoch ms
	// Result is what a Thing-IF trigger's run gave, set by the worker
	// for the store to record when the job is done.
	Result *TriggerServerCodeResult
}
