//go:build linux

package e2e

import (
	"context"
	"fmt"
	"net"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	criapi "k8s.io/cri-api/pkg/apis/runtime/v1"
)

// criClient is the CRI image service of a container runtime, reached
// over its unix socket the way kubelet reaches it.
type criClient struct {
	conn   *grpc.ClientConn
	images criapi.ImageServiceClient
}

// dialCRI connects to the CRI endpoint on the unix socket at sock. gRPC
// connects lazily: the first call tells whether the runtime answers.
func dialCRI(sock string) (*criClient, error) {
	conn, err := grpc.NewClient("passthrough:///"+sock,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", addr)
		}),
	)
	if err != nil {
		return nil, fmt.Errorf("CRI client for %s: %w", sock, err)
	}
	return &criClient{conn: conn, images: criapi.NewImageServiceClient(conn)}, nil
}

// Close closes the connection.
func (c *criClient) Close() error { return c.conn.Close() }

// ready reports whether the runtime answers an ImageFsInfo call, which
// only a loaded CRI plugin serves.
func (c *criClient) ready(ctx context.Context) error {
	_, err := c.images.ImageFsInfo(ctx, &criapi.ImageFsInfoRequest{})
	return err
}

// pull asks the runtime to pull ref, as kubelet does for a pod's image
// (no credentials, no sandbox), and returns the image's id.
func (c *criClient) pull(ctx context.Context, ref string) (string, error) {
	resp, err := c.images.PullImage(ctx, &criapi.PullImageRequest{Image: &criapi.ImageSpec{Image: ref}})
	if err != nil {
		return "", fmt.Errorf("CRI PullImage %s: %w", ref, err)
	}
	return resp.GetImageRef(), nil
}

// imageID returns the id of ref in the runtime's store, "" when it has
// no such image.
func (c *criClient) imageID(ctx context.Context, ref string) (string, error) {
	resp, err := c.images.ImageStatus(ctx, &criapi.ImageStatusRequest{Image: &criapi.ImageSpec{Image: ref}})
	if err != nil {
		return "", fmt.Errorf("CRI ImageStatus %s: %w", ref, err)
	}
	return resp.GetImage().GetId(), nil
}
