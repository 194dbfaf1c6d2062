package clustertest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
)

// Bins are the binaries a test run uses, built once per run into a temporary directory.
type Bins struct {
	Dir       string
	Gateway   string
	NATSEmbed string
	ChatLoad  string
}

var (
	buildOnce sync.Once
	builtBins Bins
	buildErr  error
)

// Build builds cmd/gateway, cmd/natsembed and cmd/chatload the first time it is called, from
// the module root (or from the directory in CLUSTERTEST_ROOT, e.g. a `git archive` of another
// commit), without the race detector (they are the system under test, not the test).
// RemoveBins deletes them; TestMain calls it.
func Build() (Bins, error) {
	buildOnce.Do(func() { builtBins, buildErr = build() })
	return builtBins, buildErr
}

func build() (Bins, error) {
	root := os.Getenv("CLUSTERTEST_ROOT")
	if root == "" {
		out, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			return Bins{}, fmt.Errorf("clustertest: go env GOMOD: %w", err)
		}
		root = filepath.Dir(strings.TrimSpace(string(out)))
	}
	dir, err := os.MkdirTemp("", "clustertest-bin-")
	if err != nil {
		return Bins{}, err
	}
	cmd := exec.Command("go", "build", "-o", dir+string(filepath.Separator),
		"./cmd/gateway", "./cmd/natsembed", "./cmd/chatload")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return Bins{}, fmt.Errorf("clustertest: go build: %w\n%s", err, b)
	}
	return Bins{Dir: dir, Gateway: filepath.Join(dir, "gateway"),
		NATSEmbed: filepath.Join(dir, "natsembed"), ChatLoad: filepath.Join(dir, "chatload")}, nil
}

// RemoveBins deletes the binaries Build made, if any.
func RemoveBins() {
	if builtBins.Dir != "" {
		os.RemoveAll(builtBins.Dir)
	}
}

// HAProxy returns the path of the haproxy binary, or "" when it is not installed.
func HAProxy() string {
	if p, err := exec.LookPath("haproxy"); err == nil {
		return p
	}
	for _, p := range []string{"/usr/sbin/haproxy", "/sbin/haproxy", "/usr/local/sbin/haproxy"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}
