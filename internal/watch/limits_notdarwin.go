//go:build !darwin

package watch

// openFilesLimitError: inotify (Linux) and ReadDirectoryChangesW (Windows) do not hold an
// open file per watched file; their limits are handled by limitError.
func openFilesLimitError(error) *LimitError { return nil }
