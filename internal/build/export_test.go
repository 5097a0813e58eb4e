package build

// ContentReads returns how many files had their content read by Hash so far
// (stat cache misses), process-wide.
func ContentReads() int64 { return contentReads.Load() }

var (
	BaseImages      = baseImages
	WriteContextTar = writeContextTar
	ContextExcludes = contextExcludes
	NewLineWriter   = newLineWriter
	StatCachePath   = statCachePath
	RacyWindow      = racyWindow
)
