"""How `make test`'s two pytest-xdist workers share the suite.

Each worker builds its own session and module fixtures, and some of them take seconds: the synthesized
example and five-team factories, the endpoint stacks, the local training run, the rendered pipeline
definitions. So every test under tests/infrastructure/ (they all read the synthesized templates) is one unit of
work, a file with a module-scoped fixture is one unit, and every other test is a unit of its own (as
`--dist load` schedules it): each expensive fixture is built once per run, not once per worker, and the
independent tests (each a subprocess or a moto run) still fill whichever worker is free.

(`--dist loadgroup` with `xdist_group` marks would say the same, but under pytest 9.2 it silently groups
nothing: pytest-xdist 3.8 writes the group into `item._nodeid`, which pytest no longer reads;
pytest-dev/pytest-xdist#1386.)"""

from __future__ import annotations

import functools
import re
from pathlib import Path

from xdist.scheduler import LoadScopeScheduling

ROOT = Path(__file__).resolve().parents[1]

SYNTHESIZED = "tests/infrastructure/"
# the session fixtures that synthesize (tests/conftest.py, tests/infrastructure/conftest.py)
SYNTHESIZING_FIXTURES = frozenset({"example_factory", "many_team_factory", "endpoints"})


MODULE_FIXTURE = re.compile(r"@pytest\.fixture\([^)]*scope=\"module\"")


@functools.cache
def has_module_fixture(path: Path) -> bool:
    return bool(MODULE_FIXTURE.search(path.read_text()))


def work_unit(nodeid: str, root: Path = ROOT) -> str:
    """The unit a test is scheduled in: tests/infrastructure/ as a whole, its file when the file has a
    module-scoped fixture, otherwise the test alone."""
    path = nodeid.split("::", 1)[0]
    if path.startswith(SYNTHESIZED):
        return SYNTHESIZED
    return path if has_module_fixture(root / path) else nodeid


class SharedFixtureScheduling(LoadScopeScheduling):
    def _split_scope(self, nodeid: str) -> str:
        return work_unit(nodeid)


def misplaced(nodeid: str, fixturenames) -> str | None:
    """Why a test that synthesizes must move under tests/infrastructure/, or None: elsewhere it would make the
    other worker synthesize the same factory again."""
    used = SYNTHESIZING_FIXTURES.intersection(fixturenames)
    if used and work_unit(nodeid) != SYNTHESIZED:
        return f"{nodeid} uses {', '.join(sorted(used))}: tests that synthesize belong under {SYNTHESIZED}"
    return None
