"""How `make test`'s two pytest-xdist workers share the suite.

Each worker builds its own session and module fixtures, and some of them take seconds: the synthesized
example and five-team factories, the endpoint stacks, the local training run, the rendered pipeline
definitions. So every test under tests/infrastructure/ (they all read the synthesized templates) is one unit of
work, the tests of a file that use one of its module-scoped fixtures are one unit, and every other test is a unit
of its own (as `--dist load` schedules it): each expensive fixture is built once per run, not once per worker,
and the independent tests (each a subprocess or a moto run) still fill whichever worker is free.

(`--dist loadgroup` with `xdist_group` marks would say the same, but under pytest 9.2 it silently groups
nothing: pytest-xdist 3.8 writes the group into `item._nodeid`, which pytest no longer reads;
pytest-dev/pytest-xdist#1386.)"""

from __future__ import annotations

import ast
import functools
from pathlib import Path

from xdist.scheduler import LoadScopeScheduling

ROOT = Path(__file__).resolve().parents[1]

SYNTHESIZED = "tests/infrastructure/"
# the session fixtures that synthesize (tests/conftest.py, tests/infrastructure/conftest.py)
SYNTHESIZING_FIXTURES = frozenset({"example_factory", "many_team_factory", "endpoints"})


def _fixture(decorator: ast.expr) -> dict | None:
    """The options of a `@pytest.fixture` or `@pytest.fixture(...)` decorator ({} for none); None for any other."""
    call = decorator if isinstance(decorator, ast.Call) else None
    target = call.func if call else decorator
    if (target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", None)) != "fixture":
        return None
    return {k.arg: k.value.value for k in (call.keywords if call else ()) if isinstance(k.value, ast.Constant)}


@functools.cache
def sharing_tests(path: Path) -> frozenset[str]:
    """The tests of this file that use one of its module-scoped fixtures, directly or through the file's other
    fixtures (every test, when a module-scoped fixture is autouse)."""
    functions = [node for node in ast.walk(ast.parse(path.read_text()))
                 if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))]
    fixtures = {}  # fixture name -> (scope, autouse, the fixtures it requests)
    for node in functions:
        for options in (o for o in map(_fixture, node.decorator_list) if o is not None):
            fixtures[options.get("name", node.name)] = (options.get("scope", "function"), options.get("autouse"),
                                                        [arg.arg for arg in node.args.args])
    shared = {name for name, (scope, _, _) in fixtures.items() if scope == "module"}
    if any(scope == "module" and autouse for scope, autouse, _ in fixtures.values()):
        return frozenset(node.name for node in functions if node.name.startswith("test"))
    while True:  # a fixture that requests a shared one shares it
        more = {name for name, (_, _, requested) in fixtures.items() if shared.intersection(requested)} - shared
        if not more:
            break
        shared |= more
    return frozenset(node.name for node in functions if node.name.startswith("test")
                     and shared.intersection(arg.arg for arg in node.args.args))


def work_unit(nodeid: str, root: Path = ROOT) -> str:
    """The unit a test is scheduled in: tests/infrastructure/ as a whole, its file when it uses one of the
    file's module-scoped fixtures, otherwise the test alone."""
    path, _, name = nodeid.partition("::")
    if path.startswith(SYNTHESIZED):
        return SYNTHESIZED
    test = name.rsplit("::", 1)[-1].split("[", 1)[0]
    return path if test in sharing_tests(root / path) else nodeid


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
