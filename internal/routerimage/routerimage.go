// Package routerimage makes clocal's router image present on a Docker daemon, on any
// machine: a laptop with a released clocal and no Go toolchain included.
//
// The image runs internal/router. Its tag on a daemon names the hash of the router's code
// ([Tag], router.Image), however it was made, so a clocal with another router never runs an old one.
// When the daemon lacks it, the first source that works wins:
//
//  1. the daemon has the tag already;
//  2. the build host has it (a stack on another Docker host: this machine's daemon), and it
//     is copied over;
//  3. router_image (clocal.yaml or clocal.local.yaml) names a registry copy: it is pulled
//     through the stack's puller (pull policy, the user's credentials) and tagged;
//  4. clocal's own executable is a static Linux executable for the daemon's architecture
//     (ELF without PT_INTERP): it becomes a one-file image running `clocal __router`;
//  5. a Go toolchain compiles the router alone (router.Program) into a one-file image;
//
// else [UnavailableError] says in one line what to do. [Push] puts the image into a
// registry (`clocal router push`), for router_image.
package routerimage

import (
	"archive/tar"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"

	cerrdefs "github.com/containerd/errdefs"
	"github.com/distribution/reference"
	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/jsonmessage"

	"github.com/clocal-dev/clocal/internal/labels"
	"github.com/clocal-dev/clocal/internal/router"
)

// Tag is the router image's tag on a daemon (router.Image).
var Tag = router.Image

// Source says where a router image came from.
type Source string

const (
	FromDaemon     Source = "daemon"       // it was there
	FromBuildHost  Source = "build host"   // copied from the build host
	FromRegistry   Source = "router_image" // pulled from the registry copy
	FromExecutable Source = "executable"   // made from clocal's own executable
	FromGo         Source = "go"           // compiled with the Go toolchain
)

// Options say where the router image may come from.
type Options struct {
	// Docker is the daemon that runs the stack.
	Docker client.APIClient
	// For names who needs the image (the router services), for messages.
	For []string
	// Out gets one line for each source that takes time (nil: nothing).
	Out io.Writer
	// RegistryImage is router_image: a repository (the router's hash is the tag) or a full
	// reference. "" skips the registry.
	RegistryImage string
	// Pull makes a reference present on Docker under the stack's pull policy (nil skips the
	// registry).
	Pull func(ctx context.Context, ref string) error
	// Copy copies a reference from the build host when that has it, and reports whether it
	// did (nil: the stack runs on the daemon it builds with).
	Copy func(ctx context.Context, ref string) (bool, error)
	// Executable is the path of a clocal executable that serves `clocal __router` (the CLI
	// sets its own; "" for programs that are not clocal, such as Go tests).
	Executable string
	// GoTool finds the go command (nil: [GoTool]).
	GoTool func() (string, error)
}

// Result says which image is present and where it came from.
type Result struct {
	Image  string `json:"image"`
	Source Source `json:"source"`
	// From is the reference pulled (router_image) or the file used (executable, go).
	From     string `json:"from,omitempty"`
	Platform string `json:"platform"`
}

// UnavailableError is a router image no source could provide: one line saying why and what
// to do.
type UnavailableError struct {
	Image    string
	Platform string
	For      []string
	// Registry is why router_image did not work (nil when it is not set).
	Registry error
	// Reasons say why clocal's executable and the Go toolchain did not.
	Reasons []string
}

func (e *UnavailableError) Error() string {
	if fix := e.Fix(); fix != "" {
		return e.Problem() + ": " + fix
	}
	return e.Problem()
}

// Fix is what to do (the registry's error says it itself when router_image is set).
func (e *UnavailableError) Fix() string {
	if e.Registry != nil {
		return ""
	}
	return "set router_image: REGISTRY/PATH/clocal-router in clocal.yaml and push the image there once from a machine with Go or a static Linux clocal: clocal router push REGISTRY/PATH/clocal-router"
}

// Problem is what is missing and why, without the fix.
func (e *UnavailableError) Problem() string {
	who := "clocal's router image"
	if n := len(e.For); n > 0 {
		names, verb := strings.Join(e.For[:min(n, 2)], ", "), "needs"
		if n > 2 {
			names += fmt.Sprintf(" and %d more", n-2)
		}
		if n > 1 {
			verb = "need"
		}
		who = fmt.Sprintf("%s (production hosts whose jobs run apart here) %s clocal's router image", names, verb)
	}
	why := strings.Join(e.Reasons, "; ")
	if e.Registry != nil {
		return fmt.Sprintf("%s %s (%s), and router_image did not work: %v (nor can it be made here: %s)", who, e.Image, e.Platform, e.Registry, why)
	}
	return fmt.Sprintf("%s %s (%s): it is not on the daemon and cannot be made here (%s)", who, e.Image, e.Platform, why)
}

func (e *UnavailableError) Unwrap() error { return e.Registry }

// RegistryRef returns the reference router_image names: a repository gets the router's hash
// as its tag; a reference with a tag or digest is used as written.
func RegistryRef(image string) string {
	named, err := reference.ParseNormalizedNamed(image)
	if err != nil {
		return image // the workspace loader has said so already
	}
	if _, ok := named.(reference.Tagged); ok {
		return image
	}
	if _, ok := named.(reference.Digested); ok {
		return image
	}
	return image + ":" + router.Hash()
}

// one Ensure at a time per process: two stacks starting together make one image.
var ensureMu sync.Mutex

// Ensure makes the router image present on o.Docker from the first source that works (see
// the package comment) and returns it. Nothing but images changes.
func Ensure(ctx context.Context, o Options) (Result, error) {
	ensureMu.Lock()
	defer ensureMu.Unlock()
	return ensure(ctx, o, true)
}

// Probe says which source Ensure would use, without making anything (clocal doctor): o.Copy
// and o.Pull are only asked whether they could (e.g. a registry digest request), clocal's
// executable is checked, the go command looked for. A router_image of another architecture
// is found out only by Ensure.
func Probe(ctx context.Context, o Options) (Result, error) {
	return ensure(ctx, o, false)
}

func ensure(ctx context.Context, o Options, create bool) (Result, error) {
	arch := DaemonArch(ctx, o.Docker)
	res := Result{Image: Tag, Platform: "linux/" + arch}
	if ok, err := present(ctx, o.Docker, Tag); err != nil || ok {
		res.Source = FromDaemon
		return res, err
	}
	var reasons []string
	if o.Copy != nil {
		ok, err := o.Copy(ctx, Tag)
		switch {
		case ctx.Err() != nil:
			return res, ctx.Err()
		case err != nil:
			reasons = append(reasons, "copy from the build host: "+firstLine(err.Error()))
		case ok:
			res.Source = FromBuildHost
			return res, nil
		}
	}
	var regErr error
	if o.RegistryImage != "" && o.Pull != nil {
		ref := RegistryRef(o.RegistryImage)
		res.Source, res.From = FromRegistry, ref
		if !create {
			regErr = o.Pull(ctx, ref)
		} else {
			regErr = fromRegistry(ctx, o, ref, arch)
		}
		if regErr == nil {
			return res, nil
		}
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
	}
	if o.Executable == "" {
		reasons = append(reasons, "this program is not clocal's executable")
	} else if err := CheckExecutable(o.Executable, arch); err != nil {
		reasons = append(reasons, err.Error())
	} else {
		res.Source, res.From = FromExecutable, o.Executable
		if !create {
			return res, nil
		}
		return res, fromExecutable(ctx, o, arch)
	}
	find := o.GoTool
	if find == nil {
		find = GoTool
	}
	goBin, err := find()
	if err != nil {
		reasons = append(reasons, err.Error())
		return Result{}, &UnavailableError{Image: Tag, Platform: res.Platform, For: o.For, Registry: regErr, Reasons: reasons}
	}
	res.Source, res.From = FromGo, goBin
	if !create {
		return res, nil
	}
	return res, fromGo(ctx, o, goBin, arch)
}

func present(ctx context.Context, docker client.APIClient, ref string) (bool, error) {
	if _, err := docker.ImageInspect(ctx, ref); err != nil {
		if cerrdefs.IsNotFound(err) {
			return false, nil
		}
		return false, fmt.Errorf("inspect %s: %w", ref, err)
	}
	return true, nil
}

// fromRegistry pulls ref (unless present) and tags it as Tag when it is a Linux image of
// the daemon's architecture.
func fromRegistry(ctx context.Context, o Options, ref, arch string) error {
	// The puller says "pulling REF (router-…)" when it pulls (and nothing when --pull never
	// forbids it: the error says it then).
	if err := o.Pull(ctx, ref); err != nil {
		return err
	}
	img, err := o.Docker.ImageInspect(ctx, ref)
	if err != nil {
		return fmt.Errorf("inspect %s: %w", ref, err)
	}
	if img.Os != "linux" || img.Architecture != arch {
		return fmt.Errorf("%s is a %s/%s image and the daemon runs linux/%s: push one made on a linux/%s machine (clocal router push)", ref, img.Os, img.Architecture, arch, arch)
	}
	if err := o.Docker.ImageTag(ctx, ref, Tag); err != nil {
		return fmt.Errorf("tag %s as %s: %w", ref, Tag, err)
	}
	return nil
}

// GoTool finds the go command: on PATH, else in the toolchain clocal was built with.
func GoTool() (string, error) {
	if p, err := exec.LookPath("go"); err == nil {
		return p, nil
	}
	if root := runtime.GOROOT(); root != "" {
		p := filepath.Join(root, "bin", "go")
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p, nil
		}
	}
	return "", errors.New("no go command on PATH or in GOROOT")
}

// DaemonArch is the daemon's architecture as a GOARCH (this machine's when the daemon does
// not say).
func DaemonArch(ctx context.Context, docker client.APIClient) string {
	if info, err := docker.Info(ctx); err == nil {
		if a := goArch(info.Architecture); a != "" {
			return a
		}
	}
	return runtime.GOARCH
}

// goArch maps the architecture names daemons report (uname -m) to GOARCH.
func goArch(a string) string {
	switch a {
	case "x86_64", "amd64":
		return "amd64"
	case "aarch64", "arm64":
		return "arm64"
	case "i386", "i686", "386":
		return "386"
	case "armv7l", "armv6l", "arm":
		return "arm"
	case "ppc64le", "s390x", "riscv64":
		return a
	}
	return ""
}

// elfMachines is the ELF machine of each GOARCH a daemon may run.
var elfMachines = map[string]elf.Machine{
	"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64, "386": elf.EM_386, "arm": elf.EM_ARM,
	"ppc64le": elf.EM_PPC64, "s390x": elf.EM_S390, "riscv64": elf.EM_RISCV,
}

// CheckExecutable says why the executable at path cannot be the router image of a linux/arch
// daemon: it must be a Linux ELF executable for arch that runs without a dynamic loader (no
// PT_INTERP: a FROM-scratch image has no libc).
func CheckExecutable(path, arch string) error {
	file, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("clocal's executable: %v", err)
	}
	defer file.Close()
	f, err := elf.NewFile(file)
	if err != nil {
		return fmt.Errorf("clocal's executable is not a Linux one (this is clocal for %s/%s)", runtime.GOOS, runtime.GOARCH)
	}
	if f.OSABI != elf.ELFOSABI_NONE && f.OSABI != elf.ELFOSABI_LINUX {
		return fmt.Errorf("clocal's executable is not a Linux one (%v)", f.OSABI)
	}
	if f.Type != elf.ET_EXEC && f.Type != elf.ET_DYN {
		return fmt.Errorf("clocal's executable is not an executable (%v)", f.Type)
	}
	if want, ok := elfMachines[arch]; !ok || f.Machine != want {
		is := f.Machine.String()
		for a, m := range elfMachines {
			if m == f.Machine {
				is = "linux/" + a
			}
		}
		return fmt.Errorf("clocal's executable is for %s, the daemon runs linux/%s", is, arch)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return errors.New("clocal's executable is dynamically linked (a release built with CGO_ENABLED=0 is not)")
		}
	}
	return nil
}

// fromExecutable imports clocal's executable as a one-file image running `clocal __router`.
func fromExecutable(ctx context.Context, o Options, arch string) error {
	st, err := os.Stat(o.Executable)
	if err != nil {
		return err
	}
	say(o.Out, "router image: making %s from this clocal executable (%d MB)", Tag, (st.Size()+1<<19)>>20)
	return importFile(ctx, o.Docker, o.Executable, "clocal", arch, `ENTRYPOINT ["/clocal", "`+router.Command+`"]`)
}

// fromGo compiles the router alone for linux/arch and imports it as a one-file image.
func fromGo(ctx context.Context, o Options, goBin, arch string) error {
	say(o.Out, "router image: compiling %s with %s for linux/%s", Tag, goBin, arch)
	tmp, err := os.MkdirTemp("", "clocal-router-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bin, err := Compile(ctx, goBin, arch, tmp)
	if err != nil {
		return err
	}
	return importFile(ctx, o.Docker, bin, "router", arch, `ENTRYPOINT ["/router"]`)
}

// Compile builds the standalone router (router.Program) with the go command goBin for
// linux/arch in dir and returns the executable's path: static (CGO_ENABLED=0), standard
// library only, so nothing is downloaded.
func Compile(ctx context.Context, goBin, arch, dir string) (string, error) {
	files := Program()
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		p := filepath.Join(dir, filepath.FromSlash(n))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", err
		}
		if err := os.WriteFile(p, files[n], 0o644); err != nil {
			return "", err
		}
	}
	bin := filepath.Join(dir, "clocal-router") // not "router": the package's folder
	cmd := exec.CommandContext(ctx, goBin, "build", "-trimpath", "-ldflags=-s -w", "-o", bin, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch, "GOFLAGS=", "GO111MODULE=on",
		"GOWORK=off", "GOTOOLCHAIN=local", "GOPROXY=off")
	if out, err := cmd.CombinedOutput(); err != nil {
		if ctx.Err() != nil {
			return "", ctx.Err()
		}
		return "", fmt.Errorf("build router image: go build: %w: %s", err, firstLine(string(out)))
	}
	return bin, nil
}

// Program is the standalone router's source (router.Program).
var Program = router.Program

// importFile imports a one-file image tagged Tag: the executable at path as /name. The
// router runs as root: production ports below 1024 are listened on too, and the image holds
// nothing else.
func importFile(ctx context.Context, docker client.APIClient, path, name, arch, entrypoint string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	pr, pw := io.Pipe()
	go func() {
		tw := tar.NewWriter(pw)
		err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o755, Size: st.Size(), Typeflag: tar.TypeReg})
		if err == nil {
			_, err = io.CopyN(tw, f, st.Size())
		}
		if err == nil {
			err = tw.Close()
		}
		pw.CloseWithError(err)
	}()
	defer pr.Close()
	rc, err := docker.ImageImport(ctx, image.ImportSource{Source: pr, SourceName: "-"}, Tag, image.ImportOptions{
		Changes:  []string{entrypoint, "LABEL " + labels.Role + "=" + labels.RoleRouter},
		Platform: "linux/" + arch,
	})
	if err != nil {
		return fmt.Errorf("create router image: %w", err)
	}
	defer rc.Close()
	if err := jsonmessage.DisplayJSONMessagesStream(rc, io.Discard, 0, false, nil); err != nil {
		return fmt.Errorf("create router image: %w", err)
	}
	return nil
}

func say(w io.Writer, format string, args ...any) {
	if w != nil {
		fmt.Fprintf(w, format+"\n", args...)
	}
}

func firstLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	return s
}
