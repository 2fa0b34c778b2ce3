package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/kumo-iot/kumo"
)

// errorType is how one kumo.Code goes on the wire.
type errorType struct {
	status int
	name   string // the Exception name of application/vnd.kii.<name>+json
}

// errorTable is THE table from Kii error codes to HTTP status and media
// type. Statuses follow the Kii JS SDK's table (spec rest-core §8), with
// Kii's inversion: a bad token is 403, a forbidden action 401.
var errorTable = map[kumo.Code]errorType{
	kumo.ErrUnauthorized:       {http.StatusUnauthorized, "UnauthorizedAccessException"},
	kumo.ErrWrongToken:         {http.StatusForbidden, "WrongTokenException"},
	kumo.ErrInvalidGrant:       {http.StatusBadRequest, "InvalidGrantException"},
	kumo.ErrThingDisabled:      {http.StatusUnauthorized, "ThingDisabledException"},
	kumo.ErrUserDisabled:       {http.StatusUnauthorized, "UserDisabledException"},
	kumo.ErrAppNotFound:        {http.StatusNotFound, "AppNotFoundException"},
	kumo.ErrAccountTypeUnknown: {http.StatusBadRequest, "AccountTypeNotSupportedException"},

	kumo.ErrInvalidInputData: {http.StatusBadRequest, "ValidationException"},
	kumo.ErrInvalidJSON:      {http.StatusBadRequest, "InvalidJsonException"},
	kumo.ErrInvalidBucket:    {http.StatusBadRequest, "InvalidBucketException"},
	kumo.ErrInvalidObjectID:  {http.StatusBadRequest, "InvalidObjectIDException"},
	kumo.ErrPasswordTooShort: {http.StatusBadRequest, "PasswordTooShortException"},
	kumo.ErrWrongPassword:    {http.StatusUnauthorized, "WrongPasswordException"},
	kumo.ErrBodyTooLarge:     {http.StatusRequestEntityTooLarge, "RequestEntityTooLargeException"},
	kumo.ErrNotSupported:     {http.StatusForbidden, "OperationNotSupportedException"},
	kumo.ErrNotImplemented:   {http.StatusNotImplemented, "OperationNotImplementedException"},
	kumo.ErrNotFound:         {http.StatusNotFound, "NotFoundException"},
	kumo.ErrMethodNotAllowed: {http.StatusMethodNotAllowed, "MethodNotAllowedException"},
	kumo.ErrRequestTimeout:   {http.StatusRequestTimeout, "RequestTimeoutException"},
	kumo.ErrTooManyRequests:  {http.StatusTooManyRequests, "TooManyRequestsException"},

	kumo.ErrUserNotFound:            {http.StatusNotFound, "UserNotFoundException"},
	kumo.ErrUserAlreadyExists:       {http.StatusConflict, "UserAlreadyExistsException"},
	kumo.ErrThingNotFound:           {http.StatusNotFound, "ThingNotFoundException"},
	kumo.ErrThingAlreadyExists:      {http.StatusConflict, "ThingAlreadyExistsException"},
	kumo.ErrBucketNotFound:          {http.StatusNotFound, "BucketNotFoundException"},
	kumo.ErrBucketAlreadyExists:     {http.StatusConflict, "BucketAlreadyExistsException"},
	kumo.ErrObjectNotFound:          {http.StatusNotFound, "ObjectNotFoundException"},
	kumo.ErrObjectAlreadyExists:     {http.StatusConflict, "ObjectAlreadyExistsException"},
	kumo.ErrObjectVersionIsStale:    {http.StatusConflict, "ObjectVersionIsStaleException"},
	kumo.ErrInstallationNotFound:    {http.StatusNotFound, "InstallationNotFoundException"},
	kumo.ErrInstallationExists:      {http.StatusConflict, "InstallationAlreadyExistsException"},
	kumo.ErrMQTTEndpointNotFound:    {http.StatusNotFound, "MQTTEndpointNotFoundException"},
	kumo.ErrPushSubscriptionExists:  {http.StatusConflict, "PushSubscriptionAlreadyExistsException"},
	kumo.ErrPushSubscriptionMissing: {http.StatusNotFound, "PushSubscriptionNotFoundException"},
	kumo.ErrFilterNotFound:          {http.StatusNotFound, "FilterNotFoundException"},
	kumo.ErrACLNotFound:             {http.StatusNotFound, "ACLNotFoundException"},
	kumo.ErrACLAlreadyExists:        {http.StatusConflict, "ACLAlreadyExistsException"},
	kumo.ErrTopicNotFound:           {http.StatusNotFound, "TopicNotFoundException"},
	kumo.ErrTopicAlreadyExists:      {http.StatusConflict, "TopicAlreadyExistsException"},
	kumo.ErrGroupNotFound:           {http.StatusNotFound, "GroupNotFoundException"},
	kumo.ErrGroupAlreadyExists:      {http.StatusConflict, "GroupAlreadyExistsException"},
	kumo.ErrThingOwnershipNotFound:  {http.StatusNotFound, "ThingOwnershipNotFoundException"},
	kumo.ErrThingOwnershipExists:    {http.StatusConflict, "ThingOwnershipAlreadyExistsException"},
	kumo.ErrInvalidOwnershipCode:    {http.StatusConflict, "InvalidThingOwnershipCodeException"},
	kumo.ErrPINCodeExpired:          {http.StatusGone, "PinCodeExpiredException"},

	kumo.ErrBodyNotFound:            {http.StatusNotFound, "ObjectBodyNotFoundException"},
	kumo.ErrBodyRangeNotSatisfiable: {http.StatusRequestedRangeNotSatisfiable, "ObjectBodyRangeNotSatisfiableException"},
	kumo.ErrBodyIntegrityNotAssured: {http.StatusPreconditionFailed, "ObjectBodyIntegrityNotAssuredException"},
	kumo.ErrBodyUploadNotFound:      {http.StatusNotFound, "ObjectBodyUploadNotFoundException"},
	kumo.ErrPublicationNotFound:     {http.StatusNotFound, "PublicationNotFoundException"},
	kumo.ErrPublicationExpired:      {http.StatusGone, "PublicationExpiredException"},

	kumo.ErrEndNodeNotOfGateway:         {http.StatusNotFound, "ThingEndNodeDoesNotBelongToGatewayException"},
	kumo.ErrEndNodeOfAnotherGateway:     {http.StatusConflict, "ThingEndNodeAlreadyBelongsToGatewayException"},
	kumo.ErrThingWithoutThingType:       {http.StatusNotFound, "ThingWithoutThingTypeException"},
	kumo.ErrThingWithoutFirmwareVersion: {http.StatusNotFound, "ThingWithoutFirmwareVersionException"},

	kumo.ErrQueryNotSupported: {http.StatusBadRequest, "QueryNotSupportedException"},

	kumo.ErrUnsupportedMediaType: {http.StatusUnsupportedMediaType, "UnsupportedMediaTypeException"},

	kumo.ErrWrongCommand:    {http.StatusBadRequest, "WrongCommandException"},
	kumo.ErrCommandNotFound: {http.StatusNotFound, "CommandNotFoundException"},
	kumo.ErrTargetNotFound:  {http.StatusNotFound, "TargetNotFoundException"},
	kumo.ErrWrongTrigger:    {http.StatusBadRequest, "WrongTriggerException"},
	kumo.ErrTriggerNotFound: {http.StatusNotFound, "TriggerNotFoundException"},

	kumo.ErrEndpointInvocation:        {http.StatusBadRequest, "EndpointInvocationErrorException"},
	kumo.ErrOperationNotAllowed:       {http.StatusConflict, "OperationNotAllowedException"},
	kumo.ErrServerCodeVersionNotFound: {http.StatusNotFound, "ServerCodeVersionNotFoundException"},
	kumo.ErrHookConfigNotFound:        {http.StatusNotFound, "HookConfigurationNotFoundException"},
	kumo.ErrScheduleExecutionNotFound: {http.StatusNotFound, "ScheduleExecutionNotFoundException"},

	kumo.ErrStateNotFound:            {http.StatusNotFound, "StateNotFoundException"},
	kumo.ErrStateHistoryNotAvailable: {http.StatusConflict, "StateHistoryNotAvailableException"},
	kumo.ErrEmptyBody:                {http.StatusBadRequest, "EmptyBodyException"},
	kumo.ErrThingTypeNotFound:        {http.StatusNotFound, "ThingTypeNotFoundException"},
	kumo.ErrFirmwareVersionNotFound:  {http.StatusNotFound, "FirmwareVersionNotFoundException"},
	kumo.ErrTraitNotFound:            {http.StatusNotFound, "TraitNotFoundException"},
	kumo.ErrTraitVersionNotFound:     {http.StatusNotFound, "TraitVersionNotFoundException"},
	kumo.ErrTraitVersionFinalized:    {http.StatusConflict, "TraitVersionFinalizedException"},
	kumo.ErrTraitVersionOpen:         {http.StatusConflict, "TraitVersionNotFinalizedException"},
	kumo.ErrTraitAliasNotFound:       {http.StatusNotFound, "TraitAliasNotFoundException"},
	kumo.ErrTraitAliasExists:         {http.StatusConflict, "TraitAliasAlreadyExistsException"},

	kumo.ErrInternal:    {http.StatusInternalServerError, "UndefinedException"},
	kumo.ErrUnavailable: {http.StatusServiceUnavailable, "TemporaryUnavailableException"},
}

// WriteError writes err in Kii's format, as every API answer does: REST
// over MQTT answers its own refusals with it (broker.ServeREST).
func (s *Server) WriteError(w http.ResponseWriter, r *http.Request, err error) {
	s.writeError(w, r, err)
}

// writeError writes err in Kii's format: {"errorCode", "message", context
// fields…} with the status and media type of its code. Errors without a
// code are logged and answered with a generic message.
func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, context.Canceled) && r.Context().Err() != nil {
		// The client went away; there is no one to answer.
		s.Log.Debug("request cancelled by the client", "method", r.Method, "path", r.URL.Path)
		return
	}
	code := kumo.ErrorCode(err)
	t, ok := errorTable[code]
	if !ok {
		s.Log.Error("error code missing from the table", "code", code)
		code, t = kumo.ErrInternal, errorTable[kumo.ErrInternal]
	}
	if code == kumo.ErrInternal {
		s.Log.Error("request failed", "method", r.Method, "path", r.URL.Path, "error", err)
	}
	body := map[string]any{}
	var e *kumo.Error
	if errors.As(err, &e) {
		for k, v := range e.Fields {
			body[k] = v
		}
	}
	body["errorCode"] = string(code)
	body["message"] = kumo.ErrorMessage(err)
	writeJSON(w, t.status, "application/vnd.kii."+t.name+"+json", body)
}
