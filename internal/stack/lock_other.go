//go:build !unix

package stack

import "context"

// LockProject is a no-op where flock is not available.
func (s *Stack) LockProject(ctx context.Context) (func(), error) { return func() {}, nil }

func (s *Stack) lockProjectShared(ctx context.Context) (func(), error) { return func() {}, nil }

func (s *Stack) tryLockProject() (func(), bool, error) { return func() {}, true, nil }
