package cfntemplate

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// ErrNoTranslator says that python3 with the SAM translator (samtranslator, which
// the pinned aws-sam-cli brings) is not on PATH.
var ErrNoTranslator = errors.New("the SAM translator (python3 with samtranslator) is not installed: run `make tools`, or pip install -r requirements-dev.txt")

// Transform runs the SAM translator over the template at path with the
// repository's scripts/sam-translate.py (root is the repository) and returns the
// CloudFormation template it gives, decoded from JSON: what `sam deploy` hands
// to CloudFormation. Code locations are s3://artifacts/<LogicalId>.zip.
func Transform(root, path string) (map[string]any, error) {
	py, err := exec.LookPath("python3")
	if err == nil {
		err = exec.Command(py, "-c", "import samtranslator").Run()
	}
	if err != nil {
		return nil, fmt.Errorf("%w (%v)", ErrNoTranslator, err)
	}
	cmd := exec.Command(py, filepath.Join(root, "scripts", "sam-translate.py"), path)
	cmd.Env = append(os.Environ(), "AWS_DEFAULT_REGION=us-east-1")
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return nil, fmt.Errorf("sam transform of %s: %w\n%s", path, err, ee.Stderr)
		}
		return nil, fmt.Errorf("sam transform of %s: %w", path, err)
	}
	var tpl map[string]any
	if err := json.Unmarshal(out, &tpl); err != nil {
		return nil, fmt.Errorf("sam transform of %s: %w", path, err)
	}
	return tpl, nil
}
