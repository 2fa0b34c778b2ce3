//go:build !unix

package main

import "os"

// Without flock, the data directory is not locked.
func tryLock(*os.File) (bool, error) { return true, nil }

func unlock(*os.File) {}

func isReadOnlyFS(error) bool { return false }

func describeFile(string) string { return "see its permissions" }

func describeUser() string { return "this user" }
