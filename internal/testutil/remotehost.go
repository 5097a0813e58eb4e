//go:build linux

package testutil

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"golang.org/x/sys/unix"
)

// RemoteHost is a second Docker host on this machine that behaves like a remote one: a
// dockerd in its own mount, network and PID namespaces (a private /tmp and /run, so paths of
// this machine's temp folders do not exist there, and its published ports are not on this
// machine's loopback), reachable only over ssh: `ssh NAME` runs `sshd -i` inside those
// namespaces through a ProxyCommand (nsenter), so no TCP listener is involved. With the
// wrapper in BinDir first in PATH, DOCKER_HOST=URL works for clocal and the docker CLI.
type RemoteHost struct {
	Name      string // ssh host alias
	URL       string // ssh://Name
	Dir       string // its files (outside /tmp: the namespace has its own /tmp)
	BinDir    string // holds an `ssh` wrapper that reads SSHConfig
	SSHConfig string
	// Socket is the daemon's API socket as seen from this machine, for assertions that
	// must not depend on the code under test.
	Socket string
	// Client talks to the daemon through Socket.
	Client *client.Client

	unshare  *exec.Cmd
	initPID  int
	stopOnce sync.Once
	exited   chan struct{}
}

// remoteHostTools are the programs the harness needs.
var remoteHostTools = []string{"unshare", "nsenter", "ssh", "ssh-keygen", "dockerd", "ip", "mount"}

// StartRemoteHost starts a second Docker host (see RemoteHost) and registers its teardown:
// every process in its namespaces is killed and its folder removed, whatever the test did.
// It needs root, util-linux, iproute2, openssh-server and docker; without them the test is
// skipped, or fails under CI=true.
func StartRemoteHost(t testing.TB) *RemoteHost {
	t.Helper()
	local := RequireDocker(t)
	h, err := NewRemoteHost(context.Background(), local)
	if err != nil {
		var m *MissingError
		if errors.As(err, &m) {
			if os.Getenv("CI") == "true" {
				t.Fatalf("CI=true and the second Docker host cannot start: %v", err)
			}
			t.Skipf("second Docker host unavailable: %v", err)
		}
		t.Fatalf("remote host: %v", err)
	}
	t.Cleanup(func() {
		if err := h.Close(); err != nil {
			t.Errorf("remote host: %v", err)
		}
	})
	return h
}

// MissingError says what this machine lacks to run a second Docker host.
type MissingError struct{ What string }

func (e *MissingError) Error() string { return e.What }

// NewRemoteHost starts a second Docker host (see RemoteHost); local is this machine's
// daemon (its storage driver is used). Close ends it. Tests use StartRemoteHost; benchmarks
// call this directly.
func NewRemoteHost(ctx context.Context, local client.APIClient) (h *RemoteHost, err error) {
	missing := func(what string) error { return &MissingError{What: what} }
	if os.Geteuid() != 0 {
		return nil, missing("needs root (unshare, nsenter)")
	}
	for _, tool := range remoteHostTools {
		if _, err := exec.LookPath(tool); err != nil {
			return nil, missing(tool + " not found (apt-get install util-linux iproute2 openssh-client openssh-server docker.io)")
		}
	}
	sshd := "/usr/sbin/sshd"
	if _, err := os.Stat(sshd); err != nil {
		if p, err := exec.LookPath("sshd"); err == nil {
			sshd = p
		} else {
			return nil, missing("sshd not found (apt-get install openssh-server)")
		}
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	driver := "fuse-overlayfs"
	if info, err := local.Info(ctx); err == nil && info.Driver != "" {
		driver = info.Driver // the driver that works on this machine's filesystem
	}

	base := "/var/tmp"
	if st, err := os.Stat(base); err != nil || !st.IsDir() {
		base = ""
	}
	sweepRemoteHosts(base)
	dir, err := os.MkdirTemp(base, "clocal-rh-")
	if err != nil {
		return nil, err
	}
	if strings.HasPrefix(dir, "/tmp/") {
		_ = os.RemoveAll(dir)
		return nil, missing("no folder outside /tmp for the second host's files (/var/tmp)")
	}
	var b [3]byte
	_, _ = rand.Read(b[:])
	h = &RemoteHost{
		Name:      "clocal-remote-" + hex.EncodeToString(b[:]),
		Dir:       dir,
		BinDir:    filepath.Join(dir, "bin"),
		SSHConfig: filepath.Join(dir, "ssh_config"),
		Socket:    filepath.Join(dir, "docker.sock"),
		exited:    make(chan struct{}),
	}
	h.URL = "ssh://" + h.Name
	defer func() {
		if err != nil {
			_ = h.Close()
			h = nil
		}
	}()
	if err := os.WriteFile(filepath.Join(dir, "owner.pid"), []byte(strconv.Itoa(os.Getpid())), 0o600); err != nil {
		return h, err
	}
	daemonJSON, _ := json.Marshal(map[string]any{
		"data-root":      filepath.Join(dir, "data"),
		"exec-root":      "/run/docker",
		"pidfile":        "/run/docker.pid",
		"storage-driver": driver,
		"hosts":          []string{"unix:///run/docker.sock", "unix://" + h.Socket},
		"iptables":       false,
		"ip-masq":        false,
		"log-driver":     "json-file",
	})
	// Inside the namespaces: a loopback, private /tmp and /run (the docker socket the remote
	// docker CLI uses, sshd's privilege separation folder), empty home folders (a fresh
	// host: this machine's shell start-up files do not run in every ssh session), a /proc
	// for the new PID namespace (container starts fail without it), then dockerd.
	nsScript := fmt.Sprintf(`#!/bin/sh
set -e
mount --make-rprivate /
ip link set lo up
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -p /run/sshd
mount -t tmpfs -o mode=700 tmpfs /root
mount -t tmpfs -o mode=755 tmpfs /home
mount -t proc proc /proc
exec dockerd --config-file %s
`, filepath.Join(dir, "daemon.json"))
	sshdConfig := fmt.Sprintf(`HostKey %[1]s/host_key
AuthorizedKeysFile %[1]s/authorized_keys
UsePAM no
StrictModes no
PidFile none
AllowTcpForwarding yes
PermitRootLogin prohibit-password
PasswordAuthentication no
PrintMotd no
PrintLastLog no
LogLevel ERROR
`, dir)
	files := map[string]string{
		"daemon.json": string(daemonJSON),
		"ns.sh":       nsScript,
		"sshd_config": sshdConfig,
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o700); err != nil {
			return h, err
		}
	}
	for _, key := range []string{"host_key", "id"} {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", h.Name, "-f", filepath.Join(dir, key)).CombinedOutput(); err != nil {
			return h, fmt.Errorf("ssh-keygen: %v\n%s", err, out)
		}
	}
	pub, err := os.ReadFile(filepath.Join(dir, "id.pub"))
	if err != nil {
		return h, err
	}
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), pub, 0o600); err != nil {
		return h, err
	}
	hostPub, err := os.ReadFile(filepath.Join(dir, "host_key.pub"))
	if err != nil {
		return h, err
	}
	if err := os.WriteFile(filepath.Join(dir, "known_hosts"), []byte(h.Name+" "+string(hostPub)), 0o600); err != nil {
		return h, err
	}

	log, err := os.Create(filepath.Join(dir, "dockerd.log"))
	if err != nil {
		return h, err
	}
	defer log.Close()
	args := []string{"--mount", "--net", "--pid", "--fork", "--propagation", "private", "--kill-child=SIGKILL"}
	if init, err := exec.LookPath("docker-init"); err == nil {
		// tini as PID 1 of the namespace reaps what sessions leave behind.
		args = append(args, init, "--")
	}
	args = append(args, filepath.Join(dir, "ns.sh"))
	h.unshare = exec.Command("unshare", args...)
	h.unshare.Stdout, h.unshare.Stderr = log, log
	// Its own process group (a Ctrl-C of the test run is not its business), and killed with
	// the test binary: --kill-child then takes the whole namespace down.
	h.unshare.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := h.unshare.Start(); err != nil {
		return h, fmt.Errorf("unshare: %w", err)
	}
	go func() {
		_ = h.unshare.Wait()
		close(h.exited)
	}()

	if h.initPID, err = h.waitChild(ctx); err != nil {
		return h, fmt.Errorf("%v\n%s", err, h.log())
	}
	if h.Client, err = client.NewClientWithOpts(client.WithHost("unix://"+h.Socket), client.WithAPIVersionNegotiation()); err != nil {
		return h, err
	}
	for {
		pctx, pcancel := context.WithTimeout(ctx, 2*time.Second)
		p, err := h.Client.Ping(pctx)
		pcancel()
		if err == nil {
			h.Client.NegotiateAPIVersionPing(p)
			break
		}
		select {
		case <-h.exited:
			return h, fmt.Errorf("dockerd exited\n%s", h.log())
		case <-ctx.Done():
			return h, fmt.Errorf("dockerd did not answer on %s: %v\n%s", h.Socket, err, h.log())
		case <-time.After(100 * time.Millisecond):
		}
	}

	sshConfig := fmt.Sprintf(`Host %[1]s
  User root
  IdentityFile %[2]s/id
  IdentitiesOnly yes
  UserKnownHostsFile %[2]s/known_hosts
  HostKeyAlias %[1]s
  StrictHostKeyChecking yes
  BatchMode yes
  LogLevel ERROR
  ProxyCommand %[3]s -t %[4]d -m -n -p %[5]s -i -f %[2]s/sshd_config
`, h.Name, dir, mustLook("nsenter"), h.initPID, sshd)
	if err := os.WriteFile(h.SSHConfig, []byte(sshConfig), 0o600); err != nil {
		return h, err
	}
	if err := os.MkdirAll(h.BinDir, 0o755); err != nil {
		return h, err
	}
	wrapper := fmt.Sprintf("#!/bin/sh\nexec %s -F %s \"$@\"\n", mustLook("ssh"), h.SSHConfig)
	if err := os.WriteFile(filepath.Join(h.BinDir, "ssh"), []byte(wrapper), 0o755); err != nil {
		return h, err
	}
	// The way in must work before the test relies on it.
	out, err := exec.CommandContext(ctx, filepath.Join(h.BinDir, "ssh"), h.Name, "docker", "version", "--format", "{{.Server.Version}}").CombinedOutput()
	if err != nil {
		return h, fmt.Errorf("ssh %s docker version: %v\n%s", h.Name, err, out)
	}
	return h, nil
}

// sweepRemoteHosts removes the folders of second hosts whose test process is gone (a test
// binary killed before its cleanup ran; its namespaces died with it).
func sweepRemoteHosts(base string) {
	if base == "" {
		base = os.TempDir()
	}
	dirs, _ := filepath.Glob(filepath.Join(base, "clocal-rh-*"))
	for _, d := range dirs {
		data, err := os.ReadFile(filepath.Join(d, "owner.pid"))
		if err != nil {
			continue
		}
		if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && syscall.Kill(pid, 0) != nil {
			_ = os.RemoveAll(d)
		}
	}
}

func mustLook(name string) string {
	p, err := exec.LookPath(name)
	if err != nil {
		return name
	}
	return p
}

// waitChild returns the PID of unshare's child: PID 1 of the new namespaces.
func (h *RemoteHost) waitChild(ctx context.Context) (int, error) {
	path := fmt.Sprintf("/proc/%d/task/%d/children", h.unshare.Process.Pid, h.unshare.Process.Pid)
	for {
		if data, err := os.ReadFile(path); err == nil {
			if f := strings.Fields(string(data)); len(f) > 0 {
				return strconv.Atoi(f[0])
			}
		}
		select {
		case <-h.exited:
			return 0, fmt.Errorf("unshare exited")
		case <-ctx.Done():
			return 0, fmt.Errorf("unshare started no child: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func (h *RemoteHost) log() string {
	data, _ := os.ReadFile(filepath.Join(h.Dir, "dockerd.log"))
	if len(data) > 4000 {
		data = data[len(data)-4000:]
	}
	return string(data)
}

// Env returns environ with PATH starting at BinDir and DOCKER_HOST=URL.
func (h *RemoteHost) Env(environ []string) []string {
	out := make([]string, 0, len(environ)+2)
	path := h.BinDir
	for _, kv := range environ {
		switch {
		case strings.HasPrefix(kv, "PATH="):
			path = h.BinDir + string(os.PathListSeparator) + kv[len("PATH="):]
		case strings.HasPrefix(kv, "DOCKER_HOST="), strings.HasPrefix(kv, "DOCKER_CONTEXT="):
		default:
			out = append(out, kv)
		}
	}
	return append(out, "PATH="+path, "DOCKER_HOST="+h.URL)
}

// inNetns runs fn on a thread locked inside the host's network namespace: sockets fn opens
// belong to that machine (they stay usable from any goroutine). The thread goes back to
// this machine's namespace before it is unlocked; should that fail it stays locked and
// leaves with its goroutine. (A thread must not simply die: processes started with
// Pdeathsig from it, such as the host's own unshare, would be killed with it.)
func (h *RemoteHost) inNetns(fn func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		self, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			runtime.UnlockOSThread()
			done <- err
			return
		}
		defer self.Close()
		ns, err := os.Open(fmt.Sprintf("/proc/%d/ns/net", h.initPID))
		if err != nil {
			runtime.UnlockOSThread()
			done <- err
			return
		}
		defer ns.Close()
		if err := unix.Setns(int(ns.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			done <- fmt.Errorf("setns: %w", err)
			return
		}
		err = fn()
		if unix.Setns(int(self.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		done <- err
	}()
	return <-done
}

// Listen opens a TCP listener on addr inside the host's network namespace: a process of
// that machine holding a port (no container publishes it). Closed when the test ends.
func (h *RemoteHost) Listen(t testing.TB, addr string) net.Listener {
	t.Helper()
	var l net.Listener
	err := h.inNetns(func() (err error) {
		l, err = net.Listen("tcp", addr)
		return err
	})
	if err != nil {
		t.Fatalf("listen on %s in %s: %v", addr, h.Name, err)
	}
	t.Cleanup(func() { _ = l.Close() })
	return l
}

// StartRegistry starts a registry (Debian's docker-registry, as StartRegistry) that only
// the host reaches: on the loopback of its network namespace, at a port that is free on
// this machine when chosen (so a reference to it names nothing here). It returns its
// "127.0.0.1:PORT" and stops with the test.
func (h *RemoteHost) StartRegistry(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath(RegistryBinary)
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("CI=true and %s is not installed (apt-get install docker-registry; .ci/run does)", RegistryBinary)
		}
		t.Skipf("%s not installed (apt-get install docker-registry)", RegistryBinary)
	}
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	dir, err := os.MkdirTemp(h.Dir, "registry-")
	if err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "config.yml")
	config := fmt.Sprintf("version: 0.1\nlog: {level: warn, accesslog: {disabled: true}}\nstorage: {filesystem: {rootdirectory: %s}}\nhttp: {addr: %s}\n", filepath.Join(dir, "data"), addr)
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(filepath.Join(dir, "registry.log"))
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	cmd := exec.Command(mustLook("nsenter"), "-t", strconv.Itoa(h.initPID), "-n", bin, "serve", cfg)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		err := h.inNetns(func() error {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				_ = c.Close()
			}
			return err
		})
		if err == nil {
			return addr
		}
		select {
		case <-exited:
			log, _ := os.ReadFile(filepath.Join(dir, "registry.log"))
			t.Fatalf("registry in %s exited (%v): %s", h.Name, cmd.ProcessState, log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("registry in %s did not listen on %s: %v", h.Name, addr, err)
		}
	}
}

// Vanish makes the host disappear at once, as a machine that lost power: every process in
// its namespaces is killed (containers included). Idempotent.
func (h *RemoteHost) Vanish() {
	h.stopOnce.Do(func() {
		if h.initPID > 0 {
			_ = syscall.Kill(h.initPID, syscall.SIGKILL)
		}
		if h.unshare != nil && h.unshare.Process != nil {
			_ = h.unshare.Process.Kill()
			select {
			case <-h.exited:
			case <-time.After(30 * time.Second):
			}
		}
	})
}

// SSHProcesses lists the live processes on this machine whose command line names the host
// (ssh masters, sessions, forwards), as "PID CMDLINE". Zombies are not processes that run.
func (h *RemoteHost) SSHProcesses() []string {
	var out []string
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(cmdline) == 0 {
			continue
		}
		if stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat")); err == nil {
			if i := bytes.LastIndexByte(stat, ')'); i > 0 && i+2 < len(stat) && stat[i+2] == 'Z' {
				continue
			}
		}
		args := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
		if !strings.HasSuffix(args[0], "ssh") {
			continue
		}
		if strings.Contains(string(cmdline), h.Name) {
			out = append(out, fmt.Sprintf("%d %s", pid, strings.Join(args, " ")))
		}
	}
	return out
}

// Close removes what was left on the host (so its daemon cleans its cgroups), then kills
// the namespaces and removes the folder.
func (h *RemoteHost) Close() error {
	if h.Client != nil {
		select {
		case <-h.exited:
		default:
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if list, err := h.Client.ContainerList(ctx, container.ListOptions{All: true}); err == nil {
				for _, c := range list {
					_ = h.Client.ContainerRemove(ctx, c.ID, container.RemoveOptions{Force: true, RemoveVolumes: true})
				}
			}
			cancel()
		}
		_ = h.Client.Close()
	}
	h.Vanish()
	var err error
	for i := 0; i < 20; i++ {
		if err = os.RemoveAll(h.Dir); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("remove %s: %w", h.Dir, err)
}
