package s3server

import (
	"context"
	"fmt"

	"github.com/minio/minio-go/v7"
)

// Upload is a multipart upload the server holds that was not completed
// (nor aborted): an object on its way, not readable under its key.
type Upload struct {
	// Key is the object the upload is for, as the bucket names it.
	Key      string
	UploadID string
	// Parts and Bytes are the parts the server has received, and their
	// bytes in all.
	Parts int
	Bytes int64
}

// Uploads lists the multipart uploads in progress in bucket for keys
// under prefix, with the parts each has received, through the S3 API
// (ListMultipartUploads, ListParts): what a process killed in the middle
// of an upload leaves behind.
func (s *Server) Uploads(ctx context.Context, bucket, prefix string) ([]Upload, error) {
	core := minio.Core{Client: s.client}
	var out []Upload
	keyMarker, idMarker := "", ""
	for {
		res, err := core.ListMultipartUploads(ctx, bucket, prefix, keyMarker, idMarker, "", 1000)
		if err != nil {
			return nil, fmt.Errorf("list the multipart uploads in %s/%s: %w", bucket, prefix, err)
		}
		for _, u := range res.Uploads {
			up := Upload{Key: u.Key, UploadID: u.UploadID}
			if err := s.countParts(ctx, core, bucket, &up); err != nil {
				return nil, err
			}
			out = append(out, up)
		}
		if !res.IsTruncated {
			return out, nil
		}
		keyMarker, idMarker = res.NextKeyMarker, res.NextUploadIDMarker
	}
}

// countParts fills in the parts of up the server has.
func (s *Server) countParts(ctx context.Context, core minio.Core, bucket string, up *Upload) error {
	marker := 0
	for {
		res, err := core.ListObjectParts(ctx, bucket, up.Key, up.UploadID, marker, 1000)
		if err != nil {
			return fmt.Errorf("list the parts of upload %s of %s: %w", up.UploadID, up.Key, err)
		}
		for _, p := range res.ObjectParts {
			up.Parts++
			up.Bytes += p.Size
		}
		if !res.IsTruncated {
			return nil
		}
		marker = res.NextPartNumberMarker
	}
}
