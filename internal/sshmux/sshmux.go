// Package sshmux drives one OpenSSH control master: the one shared connection to a Docker
// host reached as ssh://[user@]host[:port]. Everything clocal does on such a host goes over
// it: the Engine API (`docker system dial-stdio` sessions), the port forwards that make the
// stack's published ports answer on this machine's loopback, and remote commands (df).
//
// The ssh binary, ~/.ssh/config, the agent and known_hosts are the user's own, exactly as
// for `docker -H ssh://…`: clocal adds only the control options (-M, -S socket, -O …).
//
// A master is either owned by this process (Start with Detach false: it dies with the
// process, through Pdeathsig, and with Exit) or detached (it outlives the process, for
// forwards that must keep answering after `clocal up` returned; found again with Attach).
package sshmux

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	sshspec "github.com/docker/cli/cli/connhelper/ssh"
)

// Dest is an ssh destination as written in DOCKER_HOST: ssh://[user@]host[:port][/socket].
type Dest struct {
	User, Host, Port string
	// Path is the Docker socket on the remote host ("" = the remote docker CLI's default).
	Path string
}

// ParseURL reads an ssh:// Docker host URL (the docker CLI's own rules: no password, no
// query, no fragment).
func ParseURL(u string) (Dest, error) {
	sp, err := sshspec.ParseURL(u)
	if err != nil {
		return Dest{}, err
	}
	return Dest{User: sp.User, Host: sp.Host, Port: sp.Port, Path: strings.TrimRight(sp.Path, "/")}, nil
}

// URL returns ssh://[user@]host[:port][path].
func (d Dest) URL() string {
	u := url.URL{Scheme: "ssh", Host: d.Host, Path: d.Path}
	if d.Port != "" {
		u.Host = net.JoinHostPort(d.Host, d.Port)
	}
	if d.User != "" {
		u.User = url.User(d.User)
	}
	return u.String()
}

// Login is what one types after `ssh`: [user@]host (the port is a separate -p).
func (d Dest) Login() string {
	if d.User != "" {
		return d.User + "@" + d.Host
	}
	return d.Host
}

// destArgs are the ssh arguments naming the destination, ending with "--" HOST.
func (d Dest) destArgs() []string {
	var a []string
	if d.User != "" {
		a = append(a, "-l", d.User)
	}
	if d.Port != "" {
		a = append(a, "-p", d.Port)
	}
	return append(a, "--", d.Host)
}

// DockerCommand is the remote command that bridges a session to the Docker API, as the
// docker CLI runs it for ssh:// hosts.
func (d Dest) DockerCommand() []string {
	if d.Path != "" {
		return []string{"docker", "--host=unix://" + d.Path, "system", "dial-stdio"}
	}
	return []string{"docker", "system", "dial-stdio"}
}

// Options configure Start.
type Options struct {
	// Detach leaves the master running after this process exits (stop it with Exit).
	Detach bool
	// ConnectTimeout bounds the TCP connect and the ssh handshake (default 10s).
	ConnectTimeout time.Duration
	// AliveInterval is how often the master checks that the host still answers; it exits
	// after 3 missed answers (default 5s), so forwards to a vanished host do not linger.
	AliveInterval time.Duration
}

// Master is a running control master.
type Master struct {
	Dest   Dest
	Socket string

	mu       sync.Mutex
	sessions map[*cmdConn]bool
	cmd      *exec.Cmd // owned masters only
	exited   chan struct{}
	stderr   *tailBuffer
}

// ssh is the client binary (tests point PATH at a wrapper, as users do with their config).
var sshBinary = "ssh"

// Error is a failed ssh invocation: the one line of ssh's own message that says why.
type Error struct {
	Dest Dest
	Op   string
	Msg  string
	Err  error
}

func (e *Error) Error() string {
	msg := e.Msg
	if msg == "" && e.Err != nil {
		msg = e.Err.Error()
	}
	return fmt.Sprintf("ssh %s: %s: %s", e.Dest.Login(), e.Op, msg)
}

func (e *Error) Unwrap() error { return e.Err }

// Start connects and authenticates a new control master listening on socket. It returns
// once the master accepts sessions, or with ssh's own error line.
func Start(ctx context.Context, d Dest, socket string, o Options) (*Master, error) {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 10 * time.Second
	}
	if o.AliveInterval <= 0 {
		o.AliveInterval = 5 * time.Second
	}
	if err := os.MkdirAll(filepath.Dir(socket), 0o700); err != nil {
		return nil, fmt.Errorf("ssh control socket: %w", err)
	}
	_ = os.Remove(socket) // a stale socket of a dead master
	args := []string{
		"-M", "-S", socket, "-N", "-n", "-T",
		"-o", "ControlPersist=no",
		"-o", "ExitOnForwardFailure=no",
		"-o", "ConnectTimeout=" + strconv.Itoa(int(max(o.ConnectTimeout/time.Second, 1))),
		"-o", "ServerAliveInterval=" + strconv.Itoa(int(max(o.AliveInterval/time.Second, 1))),
		"-o", "ServerAliveCountMax=3",
		"-o", "BatchMode=yes",
	}
	if o.Detach {
		// -f: ssh goes to the background once authenticated, in its own session, and the
		// foreground process exits 0 (or with the error): no child of ours is left.
		args = append(args, "-f")
	}
	args = append(args, d.destArgs()...)
	cmd := exec.Command(sshBinary, args...)
	stderr := &tailBuffer{}
	cmd.Stderr = stderr
	m := &Master{Dest: d, Socket: socket, stderr: stderr, exited: make(chan struct{})}
	if o.Detach {
		// The backgrounded master keeps the standard error it inherits: a file, not a pipe
		// (a pipe would keep Wait waiting for the master's end), unlinked at once.
		f, err := os.CreateTemp(filepath.Dir(socket), "ssh-err-")
		if err != nil {
			return nil, fmt.Errorf("ssh: %w", err)
		}
		_ = os.Remove(f.Name())
		defer f.Close()
		cmd.Stderr = f
		cmd.SysProcAttr = detachedAttr()
		errc := make(chan error, 1)
		if err := cmd.Start(); err != nil {
			return nil, &Error{Dest: d, Op: "connect", Err: err}
		}
		go func() { errc <- cmd.Wait() }()
		readErr := func() string {
			buf := make([]byte, 8192)
			n, _ := f.ReadAt(buf, 0)
			return lastLine(string(buf[:n]))
		}
		select {
		case err := <-errc:
			if err != nil {
				return nil, &Error{Dest: d, Op: "connect", Msg: readErr(), Err: err}
			}
		case <-ctx.Done():
			killGroup(cmd.Process.Pid) // its ProxyCommand too
			<-errc
			return nil, &Error{Dest: d, Op: "connect", Msg: "no answer within the connection timeout", Err: ctx.Err()}
		}
		close(m.exited)
		if err := m.waitSocket(ctx); err != nil {
			return nil, err
		}
		return m, nil
	}
	cmd.SysProcAttr = ownedAttr()
	if err := cmd.Start(); err != nil {
		return nil, &Error{Dest: d, Op: "connect", Err: err}
	}
	m.cmd = cmd
	go func() {
		_ = cmd.Wait()
		close(m.exited)
	}()
	if err := m.waitSocket(ctx); err != nil {
		m.kill()
		return nil, err
	}
	return m, nil
}

// waitSocket waits until the master listens on its socket (it does so once authenticated).
func (m *Master) waitSocket(ctx context.Context) error {
	tick := time.NewTicker(15 * time.Millisecond)
	defer tick.Stop()
	for {
		if st, err := os.Stat(m.Socket); err == nil && st.Mode()&os.ModeSocket != 0 {
			return nil
		}
		select {
		case <-m.exitedIfOwned():
			return &Error{Dest: m.Dest, Op: "connect", Msg: m.stderr.lastLine(), Err: errors.New("ssh exited")}
		case <-ctx.Done():
			return &Error{Dest: m.Dest, Op: "connect", Msg: "no answer within the connection timeout", Err: ctx.Err()}
		case <-tick.C:
		}
	}
}

// exitedIfOwned is closed when an owned master exited; never for detached ones (their
// foreground process exits by design).
func (m *Master) exitedIfOwned() <-chan struct{} {
	if m.cmd == nil {
		return nil
	}
	return m.exited
}

// Exited reports whether an owned master's process has exited (a detached one: false).
func (m *Master) Exited() bool {
	if m.cmd == nil {
		return false
	}
	select {
	case <-m.exited:
		return true
	default:
		return false
	}
}

// Attach returns the master already listening on socket, or an error when none answers.
func Attach(ctx context.Context, d Dest, socket string) (*Master, error) {
	m := &Master{Dest: d, Socket: socket, stderr: &tailBuffer{}, exited: make(chan struct{})}
	close(m.exited)
	if _, err := m.PID(ctx); err != nil {
		return nil, err
	}
	return m, nil
}

// control runs `ssh -S socket -O op [args] host`.
func (m *Master) control(ctx context.Context, op string, extra ...string) (string, error) {
	args := append([]string{"-S", m.Socket, "-O", op}, extra...)
	args = append(args, m.Dest.destArgs()...)
	cmd := exec.CommandContext(ctx, sshBinary, args...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Stdin = nil
	err := cmd.Run()
	text := strings.TrimSpace(out.String())
	if err != nil {
		return text, &Error{Dest: m.Dest, Op: op, Msg: lastLine(text), Err: err}
	}
	return text, nil
}

// PID returns the master's process id (`ssh -O check`); an error when it is gone.
func (m *Master) PID(ctx context.Context) (int, error) {
	out, err := m.control(ctx, "check")
	if err != nil {
		return 0, err
	}
	// "Master running (pid=1234)"
	if i := strings.Index(out, "pid="); i >= 0 {
		s := out[i+4:]
		if j := strings.IndexByte(s, ')'); j >= 0 {
			s = s[:j]
		}
		if pid, err := strconv.Atoi(s); err == nil {
			return pid, nil
		}
	}
	return 0, &Error{Dest: m.Dest, Op: "check", Msg: "unexpected answer " + strconv.Quote(out)}
}

// Alive reports whether the master answers.
func (m *Master) Alive(ctx context.Context) bool {
	_, err := m.PID(ctx)
	return err == nil
}

// Forward asks the master to listen on local (host:port on this machine) and connect each
// accepted connection to remote (host:port as seen from the ssh host).
func (m *Master) Forward(ctx context.Context, local, remote string) error {
	_, err := m.control(ctx, "forward", "-L", local+":"+remote)
	return err
}

// Cancel removes a forward added with Forward.
func (m *Master) Cancel(ctx context.Context, local, remote string) error {
	_, err := m.control(ctx, "cancel", "-L", local+":"+remote)
	return err
}

// Exit stops the master (its forwards and sessions end with it) and waits until its
// process is gone.
func (m *Master) Exit(ctx context.Context) error {
	if m.cmd != nil {
		// Ours: end it directly (its sessions end with it), no control round trips.
		_ = m.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-m.exited:
		case <-time.After(3 * time.Second):
			killGroup(m.cmd.Process.Pid)
			<-m.exited
		}
		m.closeSessions()
		_ = os.Remove(m.Socket)
		return nil
	}
	m.closeSessions()
	pid, perr := m.PID(ctx)
	_, err := m.control(ctx, "exit")
	if perr == nil && pid > 0 {
		waitGone(pid, 3*time.Second)
	}
	_ = os.Remove(m.Socket)
	if perr != nil {
		return nil // nothing was running
	}
	return err
}

// kill ends an owned master at once.
func (m *Master) kill() {
	if m.cmd == nil || m.cmd.Process == nil {
		return
	}
	killGroup(m.cmd.Process.Pid) // its ProxyCommand too
	<-m.exited
	m.closeSessions()
	_ = os.Remove(m.Socket)
}

// waitGone waits for a process that is not our child to exit, then kills it.
func waitGone(pid int, d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if !alive(pid) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	killPID(pid)
}

// Args returns the ssh arguments that run remoteCmd as a session of this master.
func (m *Master) Args(remoteCmd ...string) ([]string, error) {
	quoted := make([]string, len(remoteCmd))
	for i, a := range remoteCmd {
		quoted[i] = shellQuote(a)
	}
	args := []string{"-S", m.Socket, "-o", "ControlMaster=no", "-T"}
	args = append(args, m.Dest.destArgs()...)
	return append(args, strings.Join(quoted, " ")), nil
}

// Dial runs remoteCmd over the master and returns its stdin/stdout as a connection (what
// the docker CLI does for ssh:// hosts, without a new handshake per connection).
func (m *Master) Dial(ctx context.Context, remoteCmd ...string) (net.Conn, error) {
	args, err := m.Args(remoteCmd...)
	if err != nil {
		return nil, err
	}
	return m.dial(ctx, args)
}

// Output runs remoteCmd over the master and returns its standard output.
func (m *Master) Output(ctx context.Context, remoteCmd ...string) ([]byte, error) {
	args, err := m.Args(remoteCmd...)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, sshBinary, args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, &Error{Dest: m.Dest, Op: strings.Join(remoteCmd, " "), Msg: lastLine(stderr.String()), Err: err}
	}
	return out, nil
}

// SocketPath returns a control socket path for key (any string naming the master) in a
// private folder: short enough for the 104-byte limit of Unix socket paths.
func SocketPath(key string) string {
	sum := sha256.Sum256([]byte(key))
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("clocal-%d", os.Getuid()))
	if len(dir) > 60 {
		dir = filepath.Join("/tmp", fmt.Sprintf("clocal-%d", os.Getuid()))
	}
	return filepath.Join(dir, hex.EncodeToString(sum[:6])+".sock")
}

// shellQuote quotes s for the remote POSIX shell ssh runs commands with.
func shellQuote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-_./=:@,+", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// tailBuffer keeps the last few KB written to it.
type tailBuffer struct {
	mu sync.Mutex
	b  []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > 8192 {
		t.b = t.b[len(t.b)-8192:]
	}
	return len(p), nil
}

func (t *tailBuffer) lastLine() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return lastLine(string(t.b))
}

// lastLine is the last non-empty line of ssh's output, the one that says what failed.
func lastLine(s string) string {
	var last string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		if l := strings.TrimSpace(sc.Text()); l != "" {
			last = l
		}
	}
	return last
}
