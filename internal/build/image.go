package build

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	dockerbuild "github.com/docker/docker/api/types/build"
	"github.com/docker/docker/pkg/jsonmessage"

	"github.com/clocal-dev/clocal/internal/labels"
)

// buildImage builds s.Dockerfile into image, labelled with the service, the content hash,
// the build time and the source revision, with BuildKit or the classic builder (see
// Builder.Backend). Base images are present by then (Ensure pulled the missing ones).
func (b *Builder) buildImage(ctx context.Context, s Spec, hash, image string) error {
	imgLabels := make(map[string]string, len(s.Labels)+4)
	for k, v := range s.Labels {
		imgLabels[k] = v
	}
	imgLabels[labels.Service] = s.Service
	imgLabels[labels.Hash] = hash
	imgLabels[labels.BuildDir] = s.Dir
	imgLabels[labels.BuiltAt] = time.Now().UTC().Format(time.RFC3339)
	if rev := sourceRev(ctx, s.Source); rev != "" {
		imgLabels[labels.SourceRev] = rev
	}
	dockerfile, err := os.ReadFile(s.Dockerfile)
	if err != nil {
		return fmt.Errorf("build %s: %w", s.Service, err)
	}
	kit, err := b.useBuildKit(ctx, s, dockerfile)
	if err != nil {
		return err
	}
	bc, err := contextOf(s)
	if err != nil {
		return err
	}
	var tail []string
	if kit != nil {
		tail, err = b.buildKitImage(ctx, kit, s, image, bc, imgLabels)
	} else {
		tail, err = b.classicImage(ctx, s, image, bc, dockerfile, imgLabels)
	}
	if err != nil {
		return err
	}
	exists, err := b.imageExists(ctx, image)
	if err != nil {
		return fmt.Errorf("build %s: inspect %s: %w", s.Service, image, err)
	}
	if !exists {
		return &ImageError{Service: s.Service, Msg: "the build finished but " + image + " was not tagged", Tail: tail}
	}
	return nil
}

// buildContext is what both backends send: the context folder, its .dockerignore
// patterns (as the content hash applies them) and the Dockerfile's path.
type buildContext struct {
	root, dockerfile string
	excludes         []string
}

func contextOf(s Spec) (buildContext, error) {
	bc := buildContext{root: resolvePath(s.Context), dockerfile: resolvePath(s.Dockerfile)}
	var err error
	if bc.excludes, err = contextExcludes(bc.root, relDockerfile(bc.root, bc.dockerfile)); err != nil {
		return bc, fmt.Errorf("build %s: %w", s.Service, err)
	}
	return bc, nil
}

// classicImage sends the build context to the Engine and builds with the classic builder.
// It returns the last lines of the build output.
func (b *Builder) classicImage(ctx context.Context, s Spec, image string, bc buildContext, original []byte, labels map[string]string) ([]string, error) {
	ctxRoot, excludes := bc.root, bc.excludes

	// The daemon is given a copy of the Dockerfile with the labels appended as
	// one LABEL instruction (the classic builder would otherwise add one step,
	// i.e. one container, per label). The copy travels in the context under a
	// private name listed in the context's .dockerignore, which makes the daemon
	// drop it from the context after reading it (what the docker CLI does for a
	// Dockerfile outside the context): COPY never sees it. The Dockerfile on
	// disk is untouched.
	derived, err := withLabels(original, labels)
	if err != nil {
		return nil, fmt.Errorf("build %s: %s: %w", s.Service, s.Dockerfile, err)
	}
	sum := sha256.Sum256(derived)
	dockerfileName := ".clocal-dockerfile-" + hex.EncodeToString(sum[:6])
	ignore, err := os.ReadFile(filepath.Join(ctxRoot, ".dockerignore"))
	switch {
	case err == nil:
		ignore = append(ignore, []byte("\n"+dockerfileName+"\n")...)
	case os.IsNotExist(err):
		ignore = []byte(".dockerignore\n" + dockerfileName + "\n")
	default:
		return nil, fmt.Errorf("build %s: %w", s.Service, err)
	}
	if len(excludes) > 0 {
		excludes = append(excludes, "!"+dockerfileName)
	}
	overrides := map[string][]byte{dockerfileName: derived, ".dockerignore": ignore}

	b.logf(s.Service, "building image %s", image)

	pr, pw := io.Pipe()
	tarDone := make(chan error, 1)
	go func() {
		err := writeContextTar(pw, ctxRoot, excludes, overrides)
		_ = pw.CloseWithError(err)
		tarDone <- err
	}()
	resp, err := b.Docker.ImageBuild(ctx, pr, dockerbuild.ImageBuildOptions{
		Tags:        []string{image},
		Dockerfile:  dockerfileName,
		Remove:      true,
		ForceRemove: true,
		PullParent:  false,
		Version:     dockerbuild.BuilderV1,
	})
	if err != nil {
		_ = pr.CloseWithError(err)
		<-tarDone
		return nil, fmt.Errorf("build %s: image build: %w", s.Service, err)
	}
	defer resp.Body.Close()

	lw := b.newServiceLines(s.Service)
	msgErr, decErr := decodeBuildStream(resp.Body, lw)
	lw.Flush()
	_ = pr.Close()
	tarErr := <-tarDone
	switch {
	case msgErr != "":
		return nil, &ImageError{Service: s.Service, Msg: msgErr, Tail: lw.Tail()}
	case ctx.Err() != nil:
		return nil, fmt.Errorf("build %s: image build: %w", s.Service, ctx.Err())
	case decErr != nil:
		return nil, fmt.Errorf("build %s: image build: read build output: %w", s.Service, decErr)
	case tarErr != nil && !errors.Is(tarErr, io.ErrClosedPipe):
		return nil, fmt.Errorf("build %s: send build context: %w", s.Service, tarErr)
	}
	return lw.Tail(), nil
}

// decodeBuildStream copies the "stream" text of a build's JSON message stream
// to w and returns the error message the daemon reported, if any.
func decodeBuildStream(r io.Reader, w io.Writer) (msgErr string, err error) {
	dec := json.NewDecoder(r)
	for {
		var m jsonmessage.JSONMessage
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return msgErr, nil
			}
			return msgErr, err
		}
		switch {
		case m.Error != nil:
			msgErr = strings.TrimSpace(m.Error.Message)
		case m.ErrorMessage != "": //nolint:staticcheck // older daemons only set this
			msgErr = strings.TrimSpace(m.ErrorMessage) //nolint:staticcheck
		case m.Stream != "":
			_, _ = io.WriteString(w, m.Stream)
		case m.Status != "":
			line := m.Status
			if m.ID != "" {
				line = m.ID + ": " + line
			}
			_, _ = io.WriteString(w, line+"\n")
		}
	}
}

// writeContextTar writes the build context as docker would send it: every file
// not excluded by the .dockerignore patterns (Dockerfile and .dockerignore always
// included), owned by 0:0. overrides replaces the content of the named
// (slash-relative) regular files, or adds them when absent.
func writeContextTar(w io.Writer, root string, excludes []string, overrides map[string][]byte) error {
	pm, err := newMatcher(excludes)
	if err != nil {
		return fmt.Errorf(".dockerignore: %w", err)
	}
	tw := tar.NewWriter(w)
	written := map[string]bool{}
	writeOverride := func(name string, mode fs.FileMode, mtime time.Time) error {
		data := overrides[name]
		written[name] = true
		hdr := &tar.Header{Name: name, Mode: int64(mode.Perm()), Size: int64(len(data)), ModTime: mtime, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	err = walkTree(root, pm, nil, func(abs, rel string, info fs.FileInfo) error {
		if _, ok := overrides[rel]; ok && info.Mode().IsRegular() {
			return writeOverride(rel, info.Mode(), info.ModTime())
		}
		var link string
		switch {
		case info.Mode().IsRegular(), info.IsDir():
		case info.Mode()&fs.ModeSymlink != 0:
			if link, err = os.Readlink(abs); err != nil {
				return err
			}
		default:
			return nil // sockets, fifos, devices are not sent
		}
		hdr, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return fmt.Errorf("%s: %w", rel, err)
		}
		hdr.Name = rel
		if info.IsDir() {
			hdr.Name += "/"
		}
		hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = 0, 0, "", ""
		hdr.AccessTime, hdr.ChangeTime = time.Time{}, time.Time{}
		hdr.Format = tar.FormatPAX
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(abs)
		if err != nil {
			return err
		}
		defer f.Close()
		if _, err := io.CopyN(tw, f, hdr.Size); err != nil {
			return fmt.Errorf("%s: %w (file changed while sending the build context?)", rel, err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	names := make([]string, 0, len(overrides))
	for name := range overrides {
		if !written[name] {
			names = append(names, name)
		}
	}
	sort.Strings(names)
	for _, name := range names {
		if err := writeOverride(name, 0o644, time.Now()); err != nil {
			return err
		}
	}
	return tw.Close()
}

// withLabels returns dockerfile with one LABEL instruction setting labels
// appended (it applies to the last stage, the image being built). Keys and
// values are double-quoted with the Dockerfile's escape character protecting
// quotes, escapes and "$" (LABEL expands variables).
func withLabels(dockerfile []byte, labels map[string]string) ([]byte, error) {
	if len(labels) == 0 {
		return dockerfile, nil
	}
	esc := escapeChar(dockerfile)
	quote := func(s string) (string, error) {
		if strings.ContainsAny(s, "\n\r") {
			return "", fmt.Errorf("label %q: line breaks are not supported", s)
		}
		var sb strings.Builder
		sb.WriteByte('"')
		for i := 0; i < len(s); i++ {
			if c := s[i]; c == '"' || c == '$' || c == esc {
				sb.WriteByte(esc)
			}
			sb.WriteByte(s[i])
		}
		sb.WriteByte('"')
		return sb.String(), nil
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := append([]byte(nil), dockerfile...)
	if len(out) > 0 && out[len(out)-1] != '\n' {
		out = append(out, '\n')
	}
	out = append(out, "LABEL"...)
	for _, k := range keys {
		qk, err := quote(k)
		if err != nil {
			return nil, err
		}
		qv, err := quote(labels[k])
		if err != nil {
			return nil, err
		}
		out = append(out, ' ')
		out = append(out, qk...)
		out = append(out, '=')
		out = append(out, qv...)
	}
	return append(out, '\n'), nil
}

// sourceRev describes the git revision of source: the short HEAD sha, with
// "-dirty" when the source folder has uncommitted changes. "" when source is
// not inside a git checkout or git is missing.
func sourceRev(ctx context.Context, source string) string {
	if source == "" {
		return ""
	}
	if _, err := exec.LookPath("git"); err != nil {
		return ""
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	git := func(args ...string) (string, error) {
		cmd := exec.CommandContext(ctx, "git", append([]string{"-C", source}, args...)...)
		cmd.Env = append(os.Environ(), "GIT_OPTIONAL_LOCKS=0", "LC_ALL=C")
		out, err := cmd.Output()
		return strings.TrimSpace(string(out)), err
	}
	rev, err := git("rev-parse", "--short", "HEAD")
	if err != nil || rev == "" {
		return ""
	}
	status, err := git("status", "--porcelain", "--", ".")
	if err == nil && status != "" {
		rev += "-dirty"
	}
	return rev
}
