package kumo

import (
	"context"
	"testing"
)

func TestUnhurried(t *testing.T) {
	ctx := context.Background()
	if IsUnhurried(ctx) {
		t.Error("a plain context is unhurried")
	}
	u := Unhurried(ctx)
	if !IsUnhurried(u) {
		t.Error("Unhurried's context is not")
	}
	child, cancel := context.WithCancel(u)
	defer cancel()
	if !IsUnhurried(child) {
		t.Error("a context derived from Unhurried's is not")
	}
}
