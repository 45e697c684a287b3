package blob

import (
	"context"
	"errors"
)

// Options choose and configure the blob store: S3 when S3.Bucket is set,
// else the directory Dir.
type Options struct {
	// Dir is the directory store's root (--blob-dir).
	Dir string
	// S3 is the object store (--s3-*); used when S3.Bucket is set.
	S3 S3Options
}

// Open opens the configured store: OpenS3 when a bucket is given, else
// NewDir. With S3, a reachable bucket is checked before it returns.
func Open(ctx context.Context, o Options) (Store, error) {
	if o.S3.Bucket != "" {
		return OpenS3(ctx, o.S3)
	}
	if o.Dir == "" {
		return nil, errors.New("blob: no store configured: give --blob-dir or --s3-bucket")
	}
	return NewDir(o.Dir)
}
