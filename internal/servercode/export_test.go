package servercode

// ActiveRuns is how many runs are executing now.
func ActiveRuns(e *Engine) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.active)
}
