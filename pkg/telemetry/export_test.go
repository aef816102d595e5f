package telemetry

// Hooks for the external tests: whether traces leave the process is not observable through the
// public API (that is the point), so the tests look inside.

// ExportsTraces reports whether t has a span exporter.
func ExportsTraces(t *Telemetry) bool { return t.exporter != nil }

// OTLPWanted exposes the environment decision for a table test.
var OTLPWanted = otlpWanted
