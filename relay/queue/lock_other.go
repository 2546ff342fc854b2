//go:build !unix

package queue

import "os"

// lockDir is a no-op where flock(2) does not exist.
func lockDir(*os.File) error { return nil }
