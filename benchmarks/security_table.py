"""Write the attack tables of docs/security.md from the test suite's own attack cases.

Run: `make security-table` (or `.venv/bin/python benchmarks/security_table.py`). Every attack is
carried out against the real code (the fetcher with a stub DNS and a recording transport, the image
validator, the app through its test client); nothing leaves this machine. A test fails when the
committed file differs from what this would write.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

warnings.filterwarnings("ignore", "Using `httpx` with `starlette.testclient`")
sys.path.insert(0, str(Path(__file__).parents[1] / "tests"))

from security.table import DOC, document_with, render  # noqa: E402


def main() -> None:
    DOC.write_text(document_with(render(), DOC.read_text()))
    print(f"wrote {DOC}")


if __name__ == "__main__":
    main()
