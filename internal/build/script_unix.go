//go:build unix

package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/creack/pty"
)

// ptySize is the terminal size build.sh sees.
var ptySize = pty.Winsize{Rows: 40, Cols: 120}

// drainTimeout bounds how long output is still read after build.sh exited: a
// background process the script left behind may keep the terminal open.
const drainTimeout = 2 * time.Second

func (b *Builder) shell() (string, error) {
	if b.Shell != "" {
		return b.Shell, nil
	}
	for _, sh := range []string{"bash", "sh"} {
		if p, err := exec.LookPath(sh); err == nil {
			return p, nil
		}
	}
	return "", errNoShell
}

// scriptEnv is the documented build.sh environment (see the package doc).
func scriptEnv(s Spec, hash, image, docker string) []string {
	env := map[string]string{}
	var order []string
	set := func(k, v string) {
		if _, ok := env[k]; !ok {
			order = append(order, k)
		}
		env[k] = v
	}
	for _, kv := range os.Environ() {
		k, v, ok := cutEnv(kv)
		if ok {
			set(k, v)
		}
	}
	switch {
	case strings.Contains(docker, "://"):
		// build.sh's docker commands run on this daemon (Builder.ScriptDocker).
		set("DOCKER_HOST", docker)
		delete(env, "DOCKER_CONTEXT")
	case docker != "":
		// A docker context: by name, so its TLS material comes along (a DOCKER_HOST
		// would win over it).
		set("DOCKER_CONTEXT", docker)
		delete(env, "DOCKER_HOST")
	}
	if env["TERM"] == "" {
		set("TERM", "xterm-256color")
	}
	keys := make([]string, 0, len(s.Env))
	for k := range s.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		set(k, s.Env[k])
	}
	set("CLOCAL", "1")
	set("CLOCAL_SERVICE", s.Service)
	set("CLOCAL_SOURCE", s.Source)
	set("CLOCAL_HASH", hash)
	set("CLOCAL_IMAGE", image)
	out := make([]string, 0, len(order))
	for _, k := range order {
		if v, ok := env[k]; ok {
			out = append(out, k+"="+v)
		}
	}
	return out
}

func cutEnv(kv string) (string, string, bool) {
	// "=C:" style entries start with '=': keep the first '=' in the key.
	for i := 1; i < len(kv); i++ {
		if kv[i] == '=' {
			return kv[:i], kv[i+1:], true
		}
	}
	return "", "", false
}

// runScript runs build.sh under a fresh pseudo-terminal, streaming its output
// line by line to Out.
func (b *Builder) runScript(ctx context.Context, s Spec, hash, image string) error {
	sh, err := b.shell()
	if err != nil {
		return &ScriptError{Service: s.Service, ExitCode: -1, Err: err}
	}
	if err := ctx.Err(); err != nil {
		return &ScriptError{Service: s.Service, ExitCode: -1, Err: err}
	}
	b.logf(s.Service, "$ %s %s", filepath.Base(sh), relOrAbs(s.Dir, s.Script))

	cmd := exec.Command(sh, s.Script)
	cmd.Dir = s.Dir
	cmd.Env = scriptEnv(s, hash, image, b.ScriptDocker)
	if b.Plain {
		cmd.Env = append(cmd.Env, "NO_COLOR=1")
	}

	master, tty, err := openPTY()
	if err != nil {
		return &ScriptError{Service: s.Service, ExitCode: -1, Err: fmt.Errorf("open pty: %w", err)}
	}
	defer master.Close()
	cmd.Stdin, cmd.Stdout, cmd.Stderr = tty, tty, tty
	// New session with the pty as controlling terminal; the script is the
	// leader of its own process group, which cancellation kills as a whole.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	err = cmd.Start()
	_ = tty.Close() // the child holds its own copies
	if err != nil {
		return &ScriptError{Service: s.Service, ExitCode: -1, Err: err}
	}
	pgid := cmd.Process.Pid
	running.add(pgid)
	defer running.remove(pgid)

	lw := b.newServiceLines(s.Service)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		_, _ = io.Copy(lw, master) // ends with EIO once every holder of the tty closed it
	}()

	waitDone := make(chan struct{})
	killed := make(chan struct{})
	go func() {
		select {
		case <-waitDone:
			return
		case <-ctx.Done():
		}
		close(killed)
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		grace := b.KillGrace
		if grace <= 0 {
			grace = 5 * time.Second
		}
		select {
		case <-waitDone:
		case <-time.After(grace):
		}
		// Whatever is left of the group (children that ignored SIGTERM).
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}()

	waitErr := cmd.Wait()
	close(waitDone)

	_ = master.SetReadDeadline(time.Now().Add(drainTimeout))
	select {
	case <-readDone:
	case <-time.After(drainTimeout + time.Second):
		_ = master.Close()
		<-readDone
	}
	lw.Flush()

	var cancelled bool
	select {
	case <-killed:
		cancelled = true
	default:
	}
	if waitErr == nil && !cancelled {
		return nil
	}
	se := &ScriptError{Service: s.Service, ExitCode: -1, Tail: lw.Tail()}
	var ee *exec.ExitError
	switch {
	case cancelled:
		se.Err = ctx.Err()
	case errors.As(waitErr, &ee):
		se.ExitCode = ee.ExitCode() // -1 when signalled
		if se.ExitCode < 0 {
			se.Err = waitErr
		}
	default:
		se.Err = waitErr
	}
	return se
}

// running are the process groups of the build scripts running now (KillRunning).
var running = &groups{m: map[int]bool{}}

type groups struct {
	mu sync.Mutex
	m  map[int]bool
}

func (g *groups) add(pgid int)    { g.mu.Lock(); g.m[pgid] = true; g.mu.Unlock() }
func (g *groups) remove(pgid int) { g.mu.Lock(); delete(g.m, pgid); g.mu.Unlock() }

// KillRunning kills (SIGKILL) the process groups of every build script still running: a
// forced exit (a second Ctrl-C) must not leave them behind, and the grace period of a
// cancelled build is what the user declined to wait for.
func KillRunning() {
	running.mu.Lock()
	defer running.mu.Unlock()
	for pgid := range running.m {
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
	}
}

// openPTY opens a pty pair sized ptySize. The master is switched to non-blocking
// mode and wrapped in a pollable *os.File so reads honour deadlines and Close.
func openPTY() (master, tty *os.File, err error) {
	ptmx, tty, err := pty.Open()
	if err != nil {
		return nil, nil, err
	}
	if err := pty.Setsize(ptmx, &ptySize); err != nil {
		_ = ptmx.Close()
		_ = tty.Close()
		return nil, nil, err
	}
	// Dup under ForkLock and mark close-on-exec so no concurrently started
	// process inherits the master.
	syscall.ForkLock.RLock()
	fd, err := syscall.Dup(int(ptmx.Fd()))
	if err == nil {
		syscall.CloseOnExec(fd)
	}
	syscall.ForkLock.RUnlock()
	_ = ptmx.Close()
	if err == nil {
		if err = syscall.SetNonblock(fd, true); err != nil {
			_ = syscall.Close(fd)
		}
	}
	if err != nil {
		_ = tty.Close()
		return nil, nil, err
	}
	return os.NewFile(uintptr(fd), "/dev/ptmx"), tty, nil
}

func relOrAbs(dir, p string) string {
	if r, err := filepath.Rel(dir, p); err == nil && !filepath.IsAbs(r) && len(r) > 0 && r[0] != '.' {
		return r
	}
	return p
}
