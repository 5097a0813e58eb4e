package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"

	"github.com/docker/docker/client"

	"github.com/clocal-dev/clocal/internal/registry"
)

// CopyImage copies image ref (with its layers and tags) from one Docker daemon to another,
// as `docker save ref | DOCKER_HOST=… docker load` does, streamed through this process:
// nothing is written to disk. It returns the bytes sent. The image keeps its ID, so a
// content hash or a Dockerfile FROM resolves to the same image on both daemons.
func CopyImage(ctx context.Context, from, to client.APIClient, ref string) (int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	rc, err := from.ImageSave(ctx, []string{ref})
	if err != nil {
		return 0, fmt.Errorf("save %s: %w", ref, err)
	}
	defer rc.Close()
	cr := &countingReader{r: rc}
	resp, err := to.ImageLoad(ctx, cr, client.ImageLoadWithQuiet(true))
	if err != nil {
		return cr.n.Load(), fmt.Errorf("load %s: %w", ref, err)
	}
	defer resp.Body.Close()
	var daemonMsg *registry.MessageError
	if err := registry.ReadMessages(resp.Body, nil); errors.As(err, &daemonMsg) {
		return cr.n.Load(), fmt.Errorf("load %s: %s", ref, strings.TrimSpace(daemonMsg.Message))
	} else if err != nil {
		return cr.n.Load(), fmt.Errorf("load %s: %w", ref, err)
	}
	if _, err := to.ImageInspect(ctx, ref); err != nil {
		return cr.n.Load(), fmt.Errorf("load %s: the daemon loaded the archive but has no %s: %w", ref, ref, err)
	}
	return cr.n.Load(), nil
}

type countingReader struct {
	r io.Reader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}
