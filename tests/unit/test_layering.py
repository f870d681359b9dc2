"""Arrows only point down (docs/architecture.md): the modules at the root of `stacks/` (the stage and the
stacks) may use any concern; a concern (`foundation`, `build`, `deploy`, ...) uses only itself,
`stacks.config` and `stacks.common`; `stacks.config` uses itself and `stacks.common`; `stacks.common`
uses only itself. A Lambda is packaged from its own folder, so it imports nothing of `stacks`."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.synth import ROOT

STACKS = ROOT / "stacks"
BASE = ("common", "config")
CONCERNS = sorted(p.name for p in STACKS.iterdir() if (p / "__init__.py").exists() and p.name not in BASE)


def imported_modules(source: str) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules.add(node.module)
            # `from stacks import foundation_stack` names a module too
            if node.module == "stacks":
                modules.update(f"stacks.{alias.name}" for alias in node.names)
    return {m for m in modules if m == "stacks" or m.startswith("stacks.")}


def allowed_packages(path: Path) -> set[str] | None:
    """The `stacks` sub-packages the module at `path` may import; None: anything (a stack at the root)."""
    relative = path.relative_to(ROOT)
    if relative.parts[0] == "lambdas":
        return set()
    if relative.parts[0] != "stacks":
        return set(BASE)
    if len(relative.parts) == 2:
        return None
    package = relative.parts[1]
    if package == "common":
        return {"common"}
    if package == "config":
        return {"common", "config"}
    return {package, *BASE}


def violations(path: Path, source: str) -> list[str]:
    allowed = allowed_packages(path)
    if allowed is None:
        return []
    found = []
    for module in sorted(imported_modules(source)):
        parts = module.split(".")
        package = parts[1] if len(parts) > 1 else ""
        if package not in allowed:
            found.append(f"{path.relative_to(ROOT)} imports {module}")
    return found


def project_modules() -> list[Path]:
    return sorted(p for folder in ("stacks", "lambdas", "pipelines", "scripts") for p in (ROOT / folder).rglob("*.py"))


def test_the_concerns_are_the_ones_the_layout_names():
    assert CONCERNS == ["build", "catalog", "cost", "deploy", "foundation", "monitoring", "serving"]


def test_every_import_points_down():
    problems = [v for path in project_modules() for v in violations(path, path.read_text(encoding="utf-8"))]
    assert problems == []


@pytest.mark.parametrize(("module", "source", "expected"), [
    ("stacks/serving/model_endpoint.py", "from stacks.monitoring.endpoint_monitoring import X",
     ["stacks/serving/model_endpoint.py imports stacks.monitoring.endpoint_monitoring"]),
    ("stacks/deploy/model_deploy.py", "import stacks.foundation_stack",
     ["stacks/deploy/model_deploy.py imports stacks.foundation_stack"]),
    ("stacks/common/naming.py", "from stacks.config.factory import FactoryConfig",
     ["stacks/common/naming.py imports stacks.config.factory"]),
    ("stacks/config/manifest.py", "from stacks import endpoint_stack",
     ["stacks/config/manifest.py imports stacks", "stacks/config/manifest.py imports stacks.endpoint_stack"]),
    ("lambdas/approval_hook/app.py", "from stacks.common.naming import endpoint_name",
     ["lambdas/approval_hook/app.py imports stacks.common.naming"]),
    ("stacks/serving/model_endpoint.py", "from stacks.config.endpoint import EndpointSettings\n"
                                         "from stacks.common.nag import acknowledge", []),
    ("stacks/team_stage.py", "from stacks.foundation_stack import FoundationStack", []),
])
def test_the_rule_catches_an_upward_or_sideways_import(module, source, expected):
    assert violations(ROOT / module, source) == expected
