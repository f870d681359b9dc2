"""The repository's own tests: CodeBuild runs them before it spends anything on SageMaker
(`python -m pytest -q tests`), and so can you."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
for folder in (ROOT, ROOT / "code", ROOT / "data"):
    sys.path.insert(0, str(folder))
