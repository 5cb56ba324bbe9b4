"""The example script runs (on the installed package) and prints what it promises."""

import subprocess
import sys

from conftest import REPO


def test_example_script_runs():
    script = REPO / "examples" / "python" / "your_matrices.py"
    p = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    assert "from net.npz via a spec" in p.stdout and "(same as above: True)" in p.stdout, p.stdout
    assert p.stdout.count("epoch ") == 4, p.stdout
