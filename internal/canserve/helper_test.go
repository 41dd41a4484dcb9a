package canserve

import (
	"os"
	"os/exec"
	"testing"
)

func runSelf(t *testing.T, test string, env ...string) ([]byte, error) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.v")
	cmd.Env = append(os.Environ(), env...)
	return cmd.CombinedOutput()
}
