// Package clustertest runs chathub scaled out as real processes on 127.0.0.1 — three
// natsembed nodes forming a JetStream cluster, three gateways on it and HAProxy in front —
// and tests what clients see through the load balancer while parts of it fail: a gateway
// killed, the stream leader killed, a rolling restart, the whole NATS cluster restarted.
//
// The non-test files hold the harness: building the binaries once per test run (build.go),
// processes (proc.go), the cluster (cluster.go, haproxy.go), steady load of
// chatclient.Sessions that check every event they receive (load.go), and a randomized
// checker: a schedule drawn from a seed (schedule.go) run on the cluster (checker.go) and
// the end state checked (verdict.go). TestRandomCluster runs it; make check-cluster runs it
// as long as asked:
//
//	make check-cluster DURATION=30m SEED=42
//	go test -run TestRandomCluster -v ./internal/clustertest -seed 42 -duration 2m
//
// HAProxy is Debian's haproxy (apt-get install haproxy). Without it the tests skip, saying
// so, unless CI=true, where they fail.
package clustertest
