//go:build linux

package ui

import (
	"bufio"
	"debug/elf"
	"os"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// releaseExecutablePages drops this process's read-only mappings of its own executable
// (MADV_DONTNEED): their content is the file's, so the kernel reads a page back when it is
// used again. Writable mappings (data) are left alone, and so is every page whose content
// may differ from the file: an executable with text relocations releases nothing, and a
// position-independent one or one with a RELRO segment (relocated by the dynamic loader,
// then made read-only) releases only its code.
func releaseExecutablePages() int64 {
	var released int64
	for _, s := range executableSpans() {
		if _, _, errno := unix.Syscall(unix.SYS_MADVISE, s.start, s.end-s.start, unix.MADV_DONTNEED); errno == 0 {
			released += int64(s.end - s.start)
		}
	}
	return released
}

// span is an address range of a mapping.
type span struct{ start, end uintptr }

// executableSpans are the releasable mappings of the executable (see
// releaseExecutablePages), read once: they do not move while the process runs.
var executableSpans = sync.OnceValue(func() []span {
	exe, err := os.Readlink("/proc/self/exe")
	if err != nil {
		return nil
	}
	readOnlyData, ok := releasable(exe)
	if !ok {
		return nil
	}
	f, err := os.Open("/proc/self/maps")
	if err != nil {
		return nil
	}
	defer f.Close()
	var spans []span
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// 00400000-02392000 r-xp 00000000 fe:00 10029856   /path/to/clocal
		fields := strings.Fields(sc.Text())
		if len(fields) < 6 || strings.Join(fields[5:], " ") != exe || !strings.HasPrefix(fields[1], "r") || strings.Contains(fields[1], "w") {
			continue
		}
		if !strings.Contains(fields[1], "x") && !readOnlyData {
			continue
		}
		lo, hi, ok := strings.Cut(fields[0], "-")
		if !ok {
			continue
		}
		start, err1 := strconv.ParseUint(lo, 16, 64)
		end, err2 := strconv.ParseUint(hi, 16, 64)
		if err1 != nil || err2 != nil || end <= start {
			continue
		}
		spans = append(spans, span{uintptr(start), uintptr(end)})
	}
	return spans
})

// residentFileBytes is the process's resident file-backed memory (RssFile of
// /proc/self/status), -1 if it cannot be read.
func residentFileBytes() int64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return -1
	}
	for _, l := range strings.Split(string(data), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == "RssFile:" { // RssFile:   5320 kB
			kb, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				return -1
			}
			return kb << 10
		}
	}
	return -1
}

// releasable reads the executable's ELF headers: whether its pages may be released at all
// (no text relocations), and whether its read-only data may be too (a fixed-address
// executable without a RELRO segment: nothing in it was written at load time).
func releasable(exe string) (readOnlyData, ok bool) {
	f, err := elf.Open(exe)
	if err != nil {
		return false, false
	}
	defer f.Close()
	if v, err := f.DynValue(elf.DT_TEXTREL); err == nil && len(v) > 0 {
		return false, false
	}
	if v, err := f.DynValue(elf.DT_FLAGS); err == nil {
		for _, flags := range v {
			if elf.DynFlag(flags)&elf.DF_TEXTREL != 0 {
				return false, false
			}
		}
	}
	readOnlyData = f.Type == elf.ET_EXEC
	for _, p := range f.Progs {
		if p.Type == elf.PT_GNU_RELRO {
			readOnlyData = false
		}
	}
	return readOnlyData, true
}
