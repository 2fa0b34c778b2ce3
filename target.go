package kumo

import "strings"

// ParseTarget reads a Thing-IF target, "thing:{thingID}" (the prefix in
// any case), and returns the thing ID. NOT_FOUND for any other form.
func ParseTarget(s string) (string, error) {
	if len(s) > len("thing:") && strings.EqualFold(s[:len("thing:")], "thing:") {
		return s[len("thing:"):], nil
	}
	return "", Errorf(ErrNotFound, "Target %q is not of the form thing:{thingID}", s)
}
