package servercode

import "github.com/dop251/goja"

// ActiveRuns is how many runs are executing now.
func ActiveRuns(e *Engine) int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return len(e.active)
}

// SetNative gives the runtimes made from now on a native function of the
// test's (before any run).
func SetNative(e *Engine, name string, f func(goja.FunctionCall) goja.Value) {
	if e.testNatives == nil {
		e.testNatives = map[string]func(goja.FunctionCall) goja.Value{}
	}
	e.testNatives[name] = f
}
