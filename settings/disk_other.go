//go:build !unix

package settings

// diskSize cannot tell the disk's size here; DefaultCacheMax then uses 20 GiB.
func diskSize(string) int64 { return 0 }
