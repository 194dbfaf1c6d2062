// Command healthcheck exits 0 when every URL it is given answers 2xx, and 1 otherwise.
//
// It is the HEALTHCHECK of the container images, which are distroless and so have no shell,
// curl or wget:
//
//	healthcheck http://127.0.0.1:8080/readyz
//	healthcheck -timeout 5s http://127.0.0.1:8222/healthz
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"time"
)

func main() {
	timeout := flag.Duration("timeout", 2*time.Second, "time allowed for each request")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: healthcheck [-timeout 2s] URL...")
		os.Exit(2)
	}
	for _, url := range flag.Args() {
		if err := check(context.Background(), url, *timeout); err != nil {
			fmt.Fprintln(os.Stderr, "healthcheck:", err)
			os.Exit(1)
		}
	}
}

var errStatus = errors.New("healthcheck: status not 2xx")

// check GETs url and returns nil when it answers 2xx within timeout.
func check(ctx context.Context, url string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("%w: %s answered %s", errStatus, url, resp.Status)
	}
	return nil
}
