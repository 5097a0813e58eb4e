//go:build !unix

package doctor

// openFilesLimit: no per-process open files limit that watching runs into here.
func openFilesLimit() int { return -1 }
