package sqlite

import "time"

// SetCheckpointTiming shortens the checkpointer's timing for the stores a
// test opens; the returned function restores it.
func SetCheckpointTiming(tick time.Duration, at int64) (restore func()) {
	old := checkpointing
	checkpointing.tick, checkpointing.at = tick, at
	return func() { checkpointing = old }
}
