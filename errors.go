package kumo

import (
	"errors"
	"fmt"
)

// Code is a Kii Cloud errorCode value. Every failure a client can cause is
// reported with one of these codes; internal/api maps each to an HTTP status
// and an application/vnd.kii.<Name>Exception+json media type.
type Code string

// Kii error codes used by Kumo. The names and spellings are Kii's own.
const (
	// Authentication and authorization.
	ErrUnauthorized       Code = "UNAUTHORIZED" // a valid caller that may not do this (401)
	ErrWrongToken         Code = "WRONG_TOKEN"  // a bad, expired or revoked token (403)
	ErrInvalidGrant       Code = "invalid_grant"
	ErrThingDisabled      Code = "THING_DISABLED"
	ErrUserDisabled       Code = "USER_DISABLED"
	ErrAppNotFound        Code = "APP_NOT_FOUND"
	ErrAccountTypeUnknown Code = "ACCOUNT_TYPE_NOT_SUPPORTED"

	// Input.
	ErrInvalidInputData Code = "INVALID_INPUT_DATA"
	ErrInvalidJSON      Code = "INVALID_JSON"
	ErrInvalidBucket    Code = "INVALID_BUCKET"
	ErrInvalidObjectID  Code = "INVALID_OBJECT_ID"
	ErrPasswordTooShort Code = "PASSWORD_TOO_SHORT"
	ErrWrongPassword    Code = "WRONG_PASSWORD"
	ErrBodyTooLarge     Code = "REQUEST_ENTITY_TOO_LARGE"
	ErrNotSupported     Code = "OPERATION_NOT_SUPPORTED"
	ErrNotImplemented   Code = "OPERATION_NOT_IMPLEMENTED"
	ErrNotFound         Code = "NOT_FOUND"          // no such API path
	ErrMethodNotAllowed Code = "METHOD_NOT_ALLOWED" // the path exists, the method does not
	ErrRequestTimeout   Code = "REQUEST_TIMEOUT"    // a request body sent too slowly (Kumo's code)
	ErrTooManyRequests  Code = "TOO_MANY_REQUESTS"  // throttled: too many failed logins from one address

	// A Content-Type that names none of an API's forms (Thing-IF onboarding).
	ErrUnsupportedMediaType Code = "UNSUPPORTED_MEDIA_TYPE"

	// Entities.
	ErrUserNotFound            Code = "USER_NOT_FOUND"
	ErrUserAlreadyExists       Code = "USER_ALREADY_EXISTS"
	ErrThingNotFound           Code = "THING_NOT_FOUND"
	ErrThingAlreadyExists      Code = "THING_ALREADY_EXISTS"
	ErrGroupNotFound           Code = "GROUP_NOT_FOUND"
	ErrGroupAlreadyExists      Code = "GROUP_ALREADY_EXISTS"
	ErrThingOwnershipNotFound  Code = "THING_OWNERSHIP_NOT_FOUND"
	ErrThingOwnershipExists    Code = "THING_OWNERSHIP_ALREADY_EXISTS"
	ErrInvalidOwnershipCode    Code = "INVALID_THING_OWNERSHIP_CODE"
	ErrPINCodeExpired          Code = "PIN_CODE_EXPIRED"
	ErrBucketNotFound          Code = "BUCKET_NOT_FOUND"
	ErrBucketAlreadyExists     Code = "BUCKET_ALREADY_EXISTS"
	ErrObjectNotFound          Code = "OBJECT_NOT_FOUND"
	ErrObjectAlreadyExists     Code = "OBJECT_ALREADY_EXISTS"
	ErrObjectVersionIsStale    Code = "OBJECT_VERSION_IS_STALE"
	ErrInstallationNotFound    Code = "INSTALLATION_NOT_FOUND"
	ErrInstallationExists      Code = "INSTALLATION_ALREADY_EXISTS"
	ErrMQTTEndpointNotFound    Code = "MQTT_ENDPOINT_NOT_FOUND"
	ErrPushSubscriptionExists  Code = "PUSH_SUBSCRIPTION_ALREADY_EXISTS"
	ErrPushSubscriptionMissing Code = "PUSH_SUBSCRIPTION_NOT_FOUND"
	ErrFilterNotFound          Code = "FILTER_NOT_FOUND"
	ErrACLNotFound             Code = "ACL_NOT_FOUND"
	ErrACLAlreadyExists        Code = "ACL_ALREADY_EXISTS"
	ErrTopicNotFound           Code = "TOPIC_NOT_FOUND"
	ErrTopicAlreadyExists      Code = "TOPIC_ALREADY_EXISTS"

	// Object bodies.
	ErrBodyNotFound            Code = "OBJECT_BODY_NOT_FOUND"
	ErrBodyRangeNotSatisfiable Code = "OBJECT_BODY_RANGE_NOT_SATISFIABLE"
	ErrBodyIntegrityNotAssured Code = "OBJECT_BODY_INTEGRITY_NOT_ASSURED"
	ErrBodyUploadNotFound      Code = "OBJECT_BODY_UPLOAD_NOT_FOUND"
	ErrPublicationNotFound     Code = "PUBLICATION_NOT_FOUND"
	ErrPublicationExpired      Code = "PUBLICATION_EXPIRED"

	// Gateways and thing info (Thing-IF).
	ErrEndNodeNotOfGateway         Code = "THING_END_NODE_DOES_NOT_BELONG_TO_GATEWAY"
	ErrEndNodeOfAnotherGateway     Code = "THING_END_NODE_ALREADY_BELONGS_TO_GATEWAY"
	ErrThingWithoutThingType       Code = "THING_WITHOUT_THING_TYPE"
	ErrThingWithoutFirmwareVersion Code = "THING_WITHOUT_FIRMWARE_VERSION"

	// Queries.
	ErrQueryNotSupported Code = "QUERY_NOT_SUPPORTED"

	// Thing-IF commands (push-mqtt §0, §7.2).
	ErrWrongCommand    Code = "WRONG_COMMAND"
	ErrCommandNotFound Code = "COMMAND_NOT_FOUND"
	ErrTargetNotFound  Code = "TARGET_NOT_FOUND"

	// Server side.
	ErrInternal    Code = "UNDEFINED_ERROR"
	ErrUnavailable Code = "TEMPORARY_UNAVAILABLE_ERROR"
)

// Codes lists every Code that Kumo can return. internal/api's table must
// have an entry for each one (a test checks it).
var Codes = []Code{
	ErrUnauthorized, ErrWrongToken, ErrInvalidGrant, ErrThingDisabled,
	ErrUserDisabled, ErrAppNotFound, ErrAccountTypeUnknown,
	ErrInvalidInputData, ErrInvalidJSON, ErrInvalidBucket, ErrInvalidObjectID,
	ErrPasswordTooShort, ErrWrongPassword, ErrBodyTooLarge, ErrNotSupported, ErrNotImplemented,
	ErrNotFound, ErrMethodNotAllowed, ErrRequestTimeout, ErrTooManyRequests,
	ErrUserNotFound, ErrUserAlreadyExists, ErrThingNotFound, ErrThingAlreadyExists,
	ErrBucketNotFound, ErrBucketAlreadyExists, ErrObjectNotFound, ErrObjectAlreadyExists,
	ErrObjectVersionIsStale, ErrInstallationNotFound, ErrInstallationExists,
	ErrMQTTEndpointNotFound, ErrPushSubscriptionExists, ErrPushSubscriptionMissing,
	ErrFilterNotFound, ErrACLNotFound, ErrACLAlreadyExists,
	ErrTopicNotFound, ErrTopicAlreadyExists,
	ErrGroupNotFound, ErrGroupAlreadyExists, ErrThingOwnershipNotFound, ErrThingOwnershipExists,
	ErrInvalidOwnershipCode, ErrPINCodeExpired,
	ErrBodyNotFound, ErrBodyRangeNotSatisfiable, ErrBodyIntegrityNotAssured, ErrBodyUploadNotFound,
	ErrPublicationNotFound, ErrPublicationExpired,
	ErrQueryNotSupported, ErrUnsupportedMediaType,
	ErrEndNodeNotOfGateway, ErrEndNodeOfAnotherGateway, ErrThingWithoutThingType, ErrThingWithoutFirmwareVersion,
	ErrWrongCommand, ErrCommandNotFound, ErrTargetNotFound,
	ErrStateNotFound, ErrStateHistoryNotAvailable, ErrEmptyBody,
	ErrThingTypeNotFound, ErrFirmwareVersionNotFound, ErrTraitNotFound,
	ErrTraitVersionNotFound, ErrTraitVersionFinalized, ErrTraitVersionOpen,
	ErrTraitAliasNotFound, ErrTraitAliasExists,
	ErrWrongTrigger, ErrTriggerNotFound,
	ErrEndpointInvocation, ErrOperationNotAllowed, ErrServerCodeVersionNotFound, ErrHookConfigNotFound, ErrScheduleExecutionNotFound,
	ErrInternal, ErrUnavailable,
}

// Error is a failure with a Kii error code, a message for the client and
// optional context fields that Kii puts beside errorCode in the body
// (for example "objectID" or "objectScope").
type Error struct {
	Code    Code
	Message string
	Fields  map[string]any
}

// Error implements the error interface.
func (e *Error) Error() string { return fmt.Sprintf("%s: %s", e.Code, e.Message) }

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// With returns e with a context field added. It is meant for chaining at the
// place the error is created: kumo.Errorf(...).With("objectID", id).
func (e *Error) With(key string, value any) *Error {
	if e.Fields == nil {
		e.Fields = make(map[string]any, 4)
	}
	e.Fields[key] = value
	return e
}

// ErrorCode returns the Code of err, or ErrInternal when err carries none.
// A nil error has no code.
func ErrorCode(err error) Code {
	var e *Error
	switch {
	case err == nil:
		return ""
	case errors.As(err, &e):
		return e.Code
	default:
		return ErrInternal
	}
}

// ErrorMessage returns the client-facing message of err. Internal errors get
// a generic message: their text is for the log, never for the client.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "An internal error occurred"
}
