//go:build !unix

package doctor

import "errors"

// localDisk is not known on this platform.
func localDisk(dir string) (Disk, error) {
	return Disk{}, errors.New("free space is not read on this platform")
}
