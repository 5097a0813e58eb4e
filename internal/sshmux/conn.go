package sshmux

import (
	"context"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"sync"
	"time"
)

// cmdConn is a connection over the standard input and output of an ssh session process
// (`ssh -S socket host docker system dial-stdio`). Its Master tracks it, so that Exit ends
// every session (a BuildKit stream left open by its client included) and no ssh process
// outlives the master.
type cmdConn struct {
	cmd    *exec.Cmd
	stdin  *os.File
	stdout *os.File
	m      *Master
	once   sync.Once
	done   chan struct{}
	err    error
}

func (m *Master) dial(ctx context.Context, args []string) (net.Conn, error) {
	cmd := exec.Command(sshBinary, args...)
	cmd.SysProcAttr = ownedAttr()
	// Plain pipes, not StdinPipe/StdoutPipe: Wait closes those when the process exits,
	// possibly before the last bytes of a half-closed stream (an exec's output after its
	// input ended) were read.
	inR, stdin, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	stdout, outW, err := os.Pipe()
	if err != nil {
		_ = inR.Close()
		_ = stdin.Close()
		return nil, err
	}
	cmd.Stdin, cmd.Stdout = inR, outW
	stderr := &tailBuffer{}
	cmd.Stderr = stderr
	closeAll := func() {
		for _, f := range []*os.File{inR, stdin, stdout, outW} {
			_ = f.Close()
		}
	}
	if err := ctx.Err(); err != nil {
		closeAll()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		closeAll()
		return nil, &Error{Dest: m.Dest, Op: "session", Err: err}
	}
	// the child has its own copies of its ends
	_ = inR.Close()
	_ = outW.Close()
	c := &cmdConn{cmd: cmd, stdin: stdin, stdout: stdout, m: m, done: make(chan struct{})}
	go func() {
		c.err = cmd.Wait()
		if c.err != nil && stderr.lastLine() != "" {
			c.err = &Error{Dest: m.Dest, Op: "session", Msg: stderr.lastLine(), Err: c.err}
		}
		close(c.done)
	}()
	m.track(c, true)
	return c, nil
}

func (c *cmdConn) Read(p []byte) (int, error) {
	n, err := c.stdout.Read(p)
	if errors.Is(err, io.EOF) {
		// the session ended: say why when ssh said so
		select {
		case <-c.done:
			var se *Error
			if errors.As(c.err, &se) {
				return n, se
			}
		case <-time.After(100 * time.Millisecond):
		}
	}
	return n, err
}

func (c *cmdConn) Write(p []byte) (int, error) { return c.stdin.Write(p) }

// CloseWrite half-closes the connection (hijacked streams use it).
func (c *cmdConn) CloseWrite() error { return c.stdin.Close() }

// CloseRead is the other half.
func (c *cmdConn) CloseRead() error { return c.stdout.Close() }

// Close ends the session process: stdin closed, then SIGKILL if it lingers.
func (c *cmdConn) Close() error {
	c.once.Do(func() {
		_ = c.stdin.Close()
		select {
		case <-c.done:
		case <-time.After(2 * time.Second):
			_ = c.cmd.Process.Kill()
			<-c.done
		}
		_ = c.stdout.Close()
		c.m.track(c, false)
	})
	return nil
}

func (c *cmdConn) LocalAddr() net.Addr                { return sessionAddr{} }
func (c *cmdConn) RemoteAddr() net.Addr               { return sessionAddr{} }
func (c *cmdConn) SetDeadline(t time.Time) error      { return nil }
func (c *cmdConn) SetReadDeadline(t time.Time) error  { return nil }
func (c *cmdConn) SetWriteDeadline(t time.Time) error { return nil }

type sessionAddr struct{}

func (sessionAddr) Network() string { return "ssh" }
func (sessionAddr) String() string  { return "ssh-session" }

// track adds or removes a session of the master.
func (m *Master) track(c *cmdConn, add bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.sessions == nil {
		m.sessions = map[*cmdConn]bool{}
	}
	if add {
		m.sessions[c] = true
	} else {
		delete(m.sessions, c)
	}
}

// closeSessions ends every session of the master.
func (m *Master) closeSessions() {
	m.mu.Lock()
	list := make([]*cmdConn, 0, len(m.sessions))
	for c := range m.sessions {
		list = append(list, c)
	}
	m.mu.Unlock()
	var wg sync.WaitGroup
	for _, c := range list {
		wg.Add(1)
		go func(c *cmdConn) {
			defer wg.Done()
			_ = c.Close()
		}(c)
	}
	wg.Wait()
}
