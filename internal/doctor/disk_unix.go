//go:build unix

package doctor

import "syscall"

// localDisk reads the free space under dir on this machine.
func localDisk(dir string) (Disk, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return Disk{}, err
	}
	return Disk{Free: st.Bavail * uint64(st.Bsize), Inodes: st.Ffree, TotalInodes: st.Files}, nil
}
