package convert

import (
	"fmt"
	"os"
	"unicode/utf8"

	"github.com/clocal-dev/clocal/internal/workspace"
)

// RemoteMountError is a service-file mount of a workspace folder on a Docker host that is
// another machine: the folder is here, the container there.
type RemoteMountError struct {
	File, Target, Source, Host string
}

func (e *RemoteMountError) Error() string {
	return fmt.Sprintf("%s: mounts.%s: %s is a folder on this machine and the Docker host %s is another one: it cannot bind it (remove mounts.%s to run there; data in job volumes stays in named volumes on that host)",
		e.File, e.Target, e.Source, e.Host, e.Target)
}

// RemoteMounts returns a *RemoteMountError for the first mounts: entry of s (sorted by
// target), or nil: on a remote Docker host no workspace folder can be bound.
func RemoteMounts(s *workspace.Service, host string) error {
	targets := sortedKeys(s.File.Mounts)
	if len(targets) == 0 {
		return nil
	}
	t := targets[0]
	return &RemoteMountError{File: s.FilePath, Target: t, Source: s.File.Mounts[t], Host: host}
}

// maxConfigSize bounds a config sent as content: it travels inside the compose project.
const maxConfigSize = 1 << 20

// configContent reads a config file that goes to a remote host as content. Compose carries
// content as a string, so it must be UTF-8 text.
func configContent(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if !st.Mode().IsRegular() {
		return "", fmt.Errorf("%s is not a regular file", path)
	}
	if st.Size() > maxConfigSize {
		return "", fmt.Errorf("%s is %d bytes: configs sent to a remote Docker host are limited to %d (bake it into the image, or use a volume)", path, st.Size(), maxConfigSize)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	if !utf8.Valid(data) {
		return "", fmt.Errorf("%s is not UTF-8 text: a remote Docker host gets configs as text content (bake binary files into the image)", path)
	}
	return string(data), nil
}
