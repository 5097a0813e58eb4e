package build

import "time"

// ContentReads returns how many files had their content read by Hash so far
// (stat cache misses), process-wide.
func ContentReads() int64 { return contentReads.Load() }

var (
	ParseBaseImages = baseImages
	WriteContextTar = writeContextTar
	ContextExcludes = contextExcludes
	NewLineWriter   = newLineWriter
	StatCachePath   = statCachePath
	RacyWindow      = racyWindow
)

// SetBuildKitRetry changes how long a failed BuildKit probe is believed, for the test.
func SetBuildKitRetry(t interface{ Cleanup(func()) }, d time.Duration) {
	old := buildKitRetry
	buildKitRetry = d
	t.Cleanup(func() { buildKitRetry = old })
}
