"""Peak memory of unpacking a 9 MB zip whose one member inflates to 1 GiB (121:1), in fresh
processes: members read into memory (the old way, still `collect()` without a folder) against
members streamed to a temporary folder (`collected()`, what the CLI and the upload page use).

    python bench/zip_memory.py
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PEAK = "import resource; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)"


def peak_mib(code: str) -> float:
    out = subprocess.run([sys.executable, "-c", f"{code}\n{PEAK}"], cwd=ROOT, check=True,
                         capture_output=True, text=True).stdout  # fmt: skip
    return float(out.splitlines()[-1])


def main() -> None:
    sys.path.insert(0, str(ROOT))
    from tests.hardening.test_battery import gigabyte_member_zip

    with tempfile.TemporaryDirectory() as folder:
        big = gigabyte_member_zip(Path(folder) / "quiet.zip")
        size_mb = big.stat().st_size / 1e6
        imports = peak_mib("import core.ingest.sources")
        memory = peak_mib(f"from core.ingest.sources import collect\nx = collect([{str(big)!r}])")
        disk = peak_mib(
            f"from core.ingest.sources import collected\nwith collected([{str(big)!r}]) as x:\n    pass"
        )
    print("| zip | import only (MiB) | into memory (MiB) | streamed to disk (MiB) |")
    print("|---|---|---|---|")
    print(f"| {size_mb:.1f} MB, 1 GiB member | {imports:.0f} | {memory:.0f} | {disk:.0f} |")


if __name__ == "__main__":
    main()
