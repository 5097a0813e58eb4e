// Package pause provides the tiny image that owns a shared network namespace.
//
// Production jobs that run on the same host reach each other on localhost. Locally those
// services join one network namespace (compose `network_mode: service:host-x`), and the
// namespace must be owned by a container that never changes, so that rebuilding one member
// never cuts the others off. That owner is a "pause" container, like a Kubernetes pod's.
//
// No registry can be reached and no toolchain may be assumed at run time, so the image is
// made from a hand-written static ELF executable of a few dozen bytes that blocks in a
// syscall forever. It is imported with the Engine API (no Dockerfile, no builder).
// With `init: true` (always set by clocal) docker-init is PID 1 and forwards SIGTERM to
// the pause process, whose default action for SIGTERM is to exit: stops are instant.
package pause

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"runtime"

	"github.com/docker/docker/api/types/image"
	"github.com/docker/docker/client"
	"github.com/docker/docker/pkg/jsonmessage"
)

// Image is the tag of the pause image clocal creates on first use.
const Image = "clocal/pause:local"

const baseAddr = 0x400000

// code returns the machine code of "loop forever in a blocking syscall" for arch.
func code(arch string) (machine uint16, text []byte, err error) {
	switch arch {
	case "amd64":
		// loop: mov eax, 34 (pause); syscall; jmp loop
		return 0x3e, []byte{0xb8, 0x22, 0x00, 0x00, 0x00, 0x0f, 0x05, 0xeb, 0xf7}, nil
	case "arm64":
		// loop: mov x8, #73 (ppoll); mov x0..x3, #0; svc #0; b loop
		words := []uint32{0xd2800928, 0xd2800000, 0xd2800001, 0xd2800002, 0xd2800003, 0xd4000001, 0x17fffffa}
		b := make([]byte, 4*len(words))
		for i, w := range words {
			binary.LittleEndian.PutUint32(b[4*i:], w)
		}
		return 0xb7, b, nil
	}
	return 0, nil, fmt.Errorf("pause image: unsupported architecture %q", arch)
}

// Executable returns a minimal static ELF64 executable for arch ("amd64" or "arm64").
func Executable(arch string) ([]byte, error) {
	machine, text, err := code(arch)
	if err != nil {
		return nil, err
	}
	const ehsize, phsize = 64, 56
	size := uint64(ehsize + phsize + len(text))
	var b bytes.Buffer
	le := binary.LittleEndian
	w := func(v any) { _ = binary.Write(&b, le, v) }
	b.Write([]byte{0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	w(uint16(2))                          // e_type: EXEC
	w(machine)                            // e_machine
	w(uint32(1))                          // e_version
	w(uint64(baseAddr + ehsize + phsize)) // e_entry
	w(uint64(ehsize))                     // e_phoff
	w(uint64(0))                          // e_shoff
	w(uint32(0))                          // e_flags
	w(uint16(ehsize))                     // e_ehsize
	w(uint16(phsize))                     // e_phentsize
	w(uint16(1))                          // e_phnum
	w(uint16(0))                          // e_shentsize
	w(uint16(0))                          // e_shnum
	w(uint16(0))                          // e_shstrndx
	w(uint32(1))                          // p_type: LOAD
	w(uint32(5))                          // p_flags: R+X
	w(uint64(0))                          // p_offset
	w(uint64(baseAddr))                   // p_vaddr
	w(uint64(baseAddr))                   // p_paddr
	w(size)                               // p_filesz
	w(size)                               // p_memsz
	w(uint64(0x1000))                     // p_align
	b.Write(text)
	return b.Bytes(), nil
}

// Ensure makes sure the pause image exists on the daemon and returns its tag.
func Ensure(ctx context.Context, docker client.APIClient) (string, error) {
	if _, err := docker.ImageInspect(ctx, Image); err == nil {
		return Image, nil
	}
	info, err := docker.Info(ctx)
	arch := runtime.GOARCH
	if err == nil {
		switch info.Architecture {
		case "x86_64", "amd64":
			arch = "amd64"
		case "aarch64", "arm64":
			arch = "arm64"
		}
	}
	exe, err := Executable(arch)
	if err != nil {
		return "", err
	}
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	if err := tw.WriteHeader(&tar.Header{Name: "pause", Mode: 0o755, Size: int64(len(exe)), Typeflag: tar.TypeReg}); err != nil {
		return "", err
	}
	if _, err := tw.Write(exe); err != nil {
		return "", err
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	rc, err := docker.ImageImport(ctx, image.ImportSource{Source: &layer, SourceName: "-"}, Image, image.ImportOptions{
		Changes:  []string{`ENTRYPOINT ["/pause"]`, `USER 65534:65534`, `LABEL dev.clocal.managed=pause`},
		Platform: "linux/" + arch,
	})
	if err != nil {
		return "", fmt.Errorf("create pause image: %w", err)
	}
	defer rc.Close()
	if err := jsonmessage.DisplayJSONMessagesStream(rc, &bytes.Buffer{}, 0, false, nil); err != nil {
		return "", fmt.Errorf("create pause image: %w", err)
	}
	return Image, nil
}
