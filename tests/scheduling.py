"""How `make test`'s two pytest-xdist workers share the suite.

Each worker builds its own session and module fixtures, and some of them take seconds: the synthesized
example and five-team factories, the endpoint stacks, the local training run, the rendered pipeline
definitions. So the tests are scheduled by file, as `--dist loadfile` does, except that every test under
tests/infrastructure/ (they all read the synthesized templates) is one unit: each of those fixtures is then
built once per run, not once per worker.

(`--dist loadgroup` with `xdist_group` marks would say the same, but under pytest 9.2 it silently groups
nothing: pytest-xdist 3.8 writes the group into `item._nodeid`, which pytest no longer reads;
pytest-dev/pytest-xdist#1386.)"""

from __future__ import annotations

from xdist.scheduler import LoadScopeScheduling

SYNTHESIZED = "tests/infrastructure/"
# the session fixtures that synthesize (tests/conftest.py, tests/infrastructure/conftest.py)
SYNTHESIZING_FIXTURES = frozenset({"example_factory", "many_team_factory", "endpoints"})


def work_unit(nodeid: str) -> str:
    """The unit a test is scheduled in: tests/infrastructure/ as a whole, or the test's file."""
    path = nodeid.split("::", 1)[0]
    return SYNTHESIZED if path.startswith(SYNTHESIZED) else path


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
