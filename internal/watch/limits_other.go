//go:build !unix

package watch

// OpenFilesLimit: Windows has no per-process open files limit that watching runs into
// (ReadDirectoryChangesW holds one handle per watched folder tree): -1, unknown.
func OpenFilesLimit() int { return -1 }
