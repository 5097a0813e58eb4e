// Package job reads production job files (protobuf text format) unchanged and
// validates them, reporting every problem as FILE:LINE:COL.
//
// # Format
//
// A job file is a text-format clocal.job.v1.JobFile (see jobpb/job.proto):
// any number of `job` messages. Everything prototext accepts is accepted:
// `< >` or `{ }` around messages, an optional ':' before a message, '#'
// comments, single or double quotes, escapes (\n, \", \101, \x41, \u00e9,
// ...), adjacent strings concatenated, list syntax `envs [{...}, {...}]`,
// ',' or ';' after a field. prototext decodes the values; a small scanner
// (scan.go) that follows the same grammar gives their positions.
//
// # Errors
//
// Every problem is an Error with a position, printed as
// `FILE:LINE:COL: message` (line and column 1-based, the column counting
// characters). ParseFile and LoadPaths report all problems at once:
//
//   - a syntax error (one per file: the file stops there and yields no jobs)
//   - a NUL byte or invalid UTF-8 anywhere in the file (as a syntax error)
//   - unknown fields, all of them, with a "did you mean" suggestion
//   - a value of the wrong type (`read_only: "yes"`, `memory_mb: abc`), a
//     missing ':' before a scalar, a singular field set twice
//   - a job without name or image; a name that is no compose service name
//     once lowercased (ServiceNamePattern); the same name (ignoring case) for
//     two jobs, across every file read
//   - an env key that is empty or holds '='; a string holding a NUL (\0)
//   - a relative container_path; a container_path or host_path with a ".."
//     segment; negative or non-finite cpus, negative memory_mb
//
// Type errors (and the other checks of the scanned tree) are reported all
// together; when a file has any but unknown fields, its jobs are not decoded
// and the job-level checks wait for the next run.
//
// The one file-level error, with no line (Pos.Line == 0, printed as
// `FILE: message`), is a file over MaxFileSize. An empty file holds no jobs
// and is no error.
//
// # Loading folders
//
// LoadPaths reads files and folders. A folder is read recursively, in
// lexical order, skipping hidden files and folders (names starting with
// '.'), and reads the files ending in .job, .jobs, .textproto, .txtpb or
// .pb.txt (symbolic links to files included, to folders not followed). A
// file named explicitly is read whatever its name. A file reached twice is
// read once.
package job
