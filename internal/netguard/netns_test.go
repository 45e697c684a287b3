package netguard

import (
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// inNetNSEnv marks the child process that TestEgressInNetworkNamespace
// starts inside a fresh network namespace.
const inNetNSEnv = "SLUICE_NETGUARD_IN_NETNS"

// TestEgressInNetworkNamespace runs the guard with its real defaults
// (net.DefaultResolver and a net.Dialer) inside `unshare -rn`: a user and
// network namespace with no interface but a down loopback, from which no
// packet can leave. It is a second line of proof beside the injected-dialer
// tests, and is skipped where unprivileged namespaces are not available.
func TestEgressInNetworkNamespace(t *testing.T) {
	if os.Getenv(inNetNSEnv) == "1" {
		egressInsideNamespace(t)
		return
	}
	if testing.Short() {
		t.Skip("short mode")
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skip("unshare not installed")
	}
	if out, err := exec.Command(unshare, "-rn", "true").CombinedOutput(); err != nil {
		t.Skipf("unprivileged network namespaces unavailable: %v: %s", err, out)
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(unshare, "-rn", exe, "-test.run=^TestEgressInNetworkNamespace$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), inNetNSEnv+"=1")
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestEgressInNetworkNamespace") {
		t.Fatalf("inside the namespace: %v\n%s", err, out)
	}
}

func egressInsideNamespace(t *testing.T) {
	ifaces, err := net.Interfaces()
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range ifaces {
		if i.Flags&net.FlagLoopback == 0 {
			t.Fatalf("interface %s present: not in an empty network namespace", i.Name)
		}
	}
	p, err := NewEgressPolicy(EgressOptions{}) // real resolver and dialer
	if err != nil {
		t.Fatal(err)
	}
	for _, addr := range []string{
		"169.254.169.254:80",
		"2852039166:80",
		"0xa9fea9fe:80",
		"0251.0376.0251.0376:80",
		"[::ffff:a9fe:a9fe]:80",
		"[fd00:ec2::254]:80",
		"127.1:80",
		"localhost:80",
		"LOCALHOST.:80",
		"foo.localhost:80",
		"10.0.0.1:5432",
		"0.0.0.0:80",
	} {
		_, err := p.DialContext(context.Background(), "tcp", addr)
		var ee *EgressError
		if !errors.As(err, &ee) {
			t.Errorf("%s: err = %v, want an *EgressError", addr, err)
		}
	}
}
