// Package objstore is hubmirror's client of an S3-compatible object store
// (AWS S3, Cloudflare R2, MinIO, SeaweedFS, Ceph RGW): a bucket and a key
// prefix named by a store URL,
//
//	s3://BUCKET/PREFIX?endpoint=URL&region=R&path_style=true
//
// and the few operations the mirror needs of it: ranged reads, stat with
// user metadata, an atomic put (upload to UploadsDir, verify, copy on the
// server, delete the upload), small records created or updated on a
// server-side condition, metadata updates for last-use stamps, listing,
// deletion and presigned GET URLs for redirects.
//
// Credentials come from the AWS environment variables, an AWS shared
// credentials file, or a function of the caller's (the OS keyring); never
// from the URL. They are never logged: Keys prints its access key ID only,
// and no error of this package holds a secret.
//
// # Why minio-go
//
// The package is built on github.com/minio/minio-go/v7 rather than
// github.com/aws/aws-sdk-go-v2. Both speak S3 to every server above, sign
// with SigV4, presign URLs, copy on the server and send If-None-Match and
// If-Match. Measured with Go 1.26 on linux/amd64, a program that puts,
// gets, copies, lists and presigns grew from 8.45 MB (net/http alone) to
// 11.60 MB with minio-go v7.4.1 (+3.2 MB; 43 packages), to 11.85 MB with
// aws-sdk-go-v2 v1.48.0's service/s3 v1.114.10 and static keys (+3.4 MB;
// 69 packages), and to 15.07 MB when aws-sdk-go-v2's config v1.33.18
// reads the credentials file (+6.6 MB; 114 packages, with SSO, STS and
// EC2 metadata clients); stripped (-s -w), +2.3, +2.5 and +4.7 MB. In
// hubmirror itself, which links golang.org/x already, a call of every
// method of this package adds 2.3 MB (1.7 MB stripped) to 39.9 MB. So
// minio-go is the smaller, if not by much, and it has what the store
// needs built in where aws-sdk-go-v2 needs more modules or code of ours:
// multipart uploads of a stream of unknown length (aws-sdk-go-v2's
// feature/s3/manager is deprecated, its successor transfermanager is
// v0.x), server-side copies over 5 GiB in parts (ComposeObject), and
// If-None-Match and If-Match on PUT as options. It is written for the
// S3-compatible servers teams run themselves: path-style addressing and
// optional regions.
//
// The shared credentials file is read here, not by minio-go's file
// provider: that provider also runs credential_process commands and reads
// ~/.aws/config, and its parse errors quote the line they fail on, which
// may be a secret.
package objstore
