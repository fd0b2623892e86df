package vuln

// SetImportPart makes imports record n findings at a time until the
// returned function restores the default, so that a small report is
// streamed in several parts.
func SetImportPart(n int) (restore func()) {
	old := importPart
	importPart = n
	return func() { importPart = old }
}
