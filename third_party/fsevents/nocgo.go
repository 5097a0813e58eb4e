//go:build darwin && !cgo

// This file is clocal's addition to github.com/fsnotify/fsevents v0.2.0 (the rest is the
// upstream code, unchanged except for the build constraint of wrap.go): the docker/compose
// library imports this package on macOS for its own `compose watch`, which clocal never
// uses (it has its own watcher, on kqueue through fsnotify). Upstream needs cgo and Apple's
// SDK, so without this file clocal could not be cross-compiled for macOS, nor built on a
// Mac without Xcode's command line tools. Here a stream cannot start: Start returns
// ErrNoCgo. The constants have Apple's values (FSEvents.h).

package fsevents

import (
	"errors"
	"time"
)

// ErrNoCgo is returned by EventStream.Start in a build without cgo.
var ErrNoCgo = errors.New("fsevents: not available in a build without cgo")

// CreateFlags specifies what events will be seen in an event stream.
type CreateFlags uint32

// Create flags (kFSEventStreamCreateFlag*).
const (
	NoDefer    CreateFlags = 0x02
	WatchRoot  CreateFlags = 0x04
	IgnoreSelf CreateFlags = 0x08
	FileEvents CreateFlags = 0x10
)

// EventFlags passed to the FSEventStreamCallback function.
type EventFlags uint32

// Event flags (kFSEventStreamEventFlag*).
const (
	MustScanSubDirs   EventFlags = 0x00000001
	UserDropped       EventFlags = 0x00000002
	KernelDropped     EventFlags = 0x00000004
	EventIDsWrapped   EventFlags = 0x00000008
	HistoryDone       EventFlags = 0x00000010
	RootChanged       EventFlags = 0x00000020
	Mount             EventFlags = 0x00000040
	Unmount           EventFlags = 0x00000080
	ItemCreated       EventFlags = 0x00000100
	ItemRemoved       EventFlags = 0x00000200
	ItemInodeMetaMod  EventFlags = 0x00000400
	ItemRenamed       EventFlags = 0x00000800
	ItemModified      EventFlags = 0x00001000
	ItemFinderInfoMod EventFlags = 0x00002000
	ItemChangeOwner   EventFlags = 0x00004000
	ItemXattrMod      EventFlags = 0x00008000
	ItemIsFile        EventFlags = 0x00010000
	ItemIsDir         EventFlags = 0x00020000
	ItemIsSymlink     EventFlags = 0x00040000
)

const eventIDSinceNow = uint64(0xFFFFFFFFFFFFFFFF)

type fsDispatchQueueRef *struct{}

type fsEventStreamRef *struct{}

// GetDeviceUUID returns "" without cgo.
func GetDeviceUUID(deviceID int32) string { return "" }

// LatestEventID returns 0 without cgo.
func LatestEventID() uint64 { return 0 }

// EventIDForDeviceBeforeTime returns 0 without cgo.
func EventIDForDeviceBeforeTime(dev int32, before time.Time) uint64 { return 0 }

func (es *EventStream) start(paths []string, callbackInfo uintptr) error { return ErrNoCgo }

func flush(stream fsEventStreamRef, sync bool) {}

func stop(stream fsEventStreamRef, qref fsDispatchQueueRef) {}
