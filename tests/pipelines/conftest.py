from __future__ import annotations

import sys

from tests.synth import ROOT

SEED = ROOT / "pipelines" / "modelbuild"
# the seed code is flat scripts (as in the team's repository): make them importable for unit tests
for path in (SEED, SEED / "code"):
    if str(path) not in sys.path:
        sys.path.insert(0, str(path))
