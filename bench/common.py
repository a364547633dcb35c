"""What the benchmark scripts share: paths, the release build, timed child processes, and
DuckDB (from PyPI, in bench/out/venv) as the reference."""
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out"
SLEUTH = ROOT / "target" / "release" / "sleuth"


def build():
    subprocess.run(["cargo", "build", "--release", "--locked", "-p", "sleuth-cli"], cwd=ROOT, check=True)


def measured(cmd, ok=(0, 1), env=None):
    """Runs cmd (with `env` added to the environment); returns (seconds, peak RSS in MiB,
    stdout). Peak memory comes from wait4; the output goes to temporary files, so a child that
    writes a lot never blocks on a full pipe."""
    seconds, _, rss, stdout = measured_with_cpu(cmd, ok, env)
    return seconds, rss, stdout


def measured_with_cpu(cmd, ok=(0, 1), env=None):
    """As `measured`, with the CPU-seconds (user and system, from wait4) after the wall time:
    (seconds, cpu_seconds, peak RSS in MiB, stdout). On a shared machine whose speed drifts
    between runs, work per CPU-second compares two programs more steadily than wall time."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        start = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env={**os.environ, **(env or {})})
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.monotonic() - start
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(), err.read().decode()
    code = os.waitstatus_to_exitcode(status)
    if code not in ok:
        sys.exit(f"{cmd[0]} failed ({code}):\n{stdout}\n{stderr}")
    return seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, stdout


def duckdb_python():
    """The venv's python with DuckDB installed (created on first use); returns (python, version)."""
    venv = OUT / "venv"
    if not (venv / "bin" / "python").exists():
        subprocess.run([sys.executable, "-m", "venv", venv], check=True)
        subprocess.run([venv / "bin" / "pip", "install", "-q", "duckdb"], check=True)
    python = venv / "bin" / "python"
    version = subprocess.run([python, "-c", "import duckdb; print(duckdb.__version__)"], capture_output=True, text=True).stdout.strip()
    return python, version
