"""How many of the project's AWS call sites have a fault test (issue: every AWS call fails well).

- The call sites: every `<client>.<operation>(...)` and `<client>.get_paginator("<operation>")` in the code
  that calls AWS at run time (FAULT_SOURCES), where <operation> is an operation of the botocore service
  model of a service the project uses; a site is the statement that holds the call.
- A fault test: while the suite runs, every botocore call that ends in an AWS error (Stubber's
  add_client_error, moto's error answers, a retry budget spent) is traced back to the project statement
  that made it.

The terminal summary prints "AWS call sites with a fault test: X of Y" (FAULT_REPORT=1 lists the ones
without); `build/fault-coverage.json` keeps the figure for `make bench`.
"""

from __future__ import annotations

import ast
import json
import os
import sys
from pathlib import Path

import botocore.client
import botocore.session
import pytest
from botocore.exceptions import BotoCoreError, ClientError

ROOT = Path(__file__).resolve().parents[1]
FAULT_SOURCES = ("lambdas", "pipelines/deploy/tasks.py", "pipelines/modelbuild/run_pipeline.py",
                 "pipelines/modelbuild/code/drift.py", "scripts/doctor.py", "scripts/catalog.py")
SERVICES = ("sagemaker", "sagemaker-runtime", "s3", "ssm", "sns", "codepipeline", "dynamodb", "ce", "sts",
            "cloudwatch", "iam", "service-quotas", "codecommit", "events")
REPORT = ROOT / "build" / "fault-coverage.json"


def _source_files() -> list[Path]:
    files = []
    for entry in FAULT_SOURCES:
        path = ROOT / entry
        files += sorted(p for p in path.rglob("*.py")) if path.is_dir() else [path]
    return files


def _operations() -> set[str]:
    session = botocore.session.get_session()
    names = set()
    for service in SERVICES:
        model = session.get_service_model(service)
        names |= {botocore.xform_name(op) for op in model.operation_names}
    return names


def call_sites() -> dict[tuple[str, int], tuple[int, str]]:
    """(file, first line of the statement) -> (last line, operation) of every AWS call statement."""
    operations, sites = _operations(), {}
    for file in _source_files():
        tree = ast.parse(file.read_text(), filename=str(file))
        relative = str(file.relative_to(ROOT))
        # a paginator calls AWS where it is iterated, later in the same function: its site spans to the end
        function_ends = {line: node.end_lineno for node in ast.walk(tree)
                         if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
                         for line in range(node.lineno, node.end_lineno + 1)}
        for statement in ast.walk(tree):
            if not isinstance(statement, ast.stmt) or isinstance(statement, (ast.FunctionDef, ast.ClassDef,
                                                                             ast.AsyncFunctionDef, ast.If, ast.For,
                                                                             ast.While, ast.With, ast.Try)):
                continue
            for node in ast.walk(statement):
                name = _operation(node, operations)
                if name:
                    paginated = isinstance(node.func, ast.Attribute) and node.func.attr == "get_paginator"
                    last = function_ends.get(statement.lineno, statement.end_lineno) if paginated else statement.end_lineno
                    sites[(relative, statement.lineno)] = (last, name)
    return sites


# what the project names its clients (the receiver of an operation call): a regex's .search, a dict's .get or
# a model's .update is not an AWS call
CLIENT_NAMES = {"sagemaker", "sagemaker_client", "events", "s3", "ssm", "sns", "codepipeline", "dynamodb", "ce", "runtime",
                "sts", "cloudwatch", "iam", "client", "clients", "codecommit", "quotas", "paginator"}


def _receiver(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
        return str(node.slice.value)
    if isinstance(node, ast.Call):
        return _receiver(node.func)
    return ""


def _operation(node: ast.AST, operations: set[str]) -> str | None:
    """The AWS operation a call node makes: client.<operation>(...), client.get_paginator("<operation>"), or the
    doctor's call(client, "<operation>", ...)."""
    if not isinstance(node, ast.Call):
        return None
    if isinstance(node.func, ast.Name) and node.func.id == "call" and len(node.args) >= 2 \
            and isinstance(node.args[1], ast.Constant) and node.args[1].value in operations:
        return node.args[1].value
    if not isinstance(node.func, ast.Attribute) or _receiver(node.func.value) not in CLIENT_NAMES:
        return None
    if node.func.attr == "get_paginator" and node.args and isinstance(node.args[0], ast.Constant):
        return node.args[0].value
    return node.func.attr if node.func.attr in operations else None


class FaultRecorder:
    """Wraps BaseClient._make_api_call: an AWS error is recorded at the project frames that led to it."""

    def __init__(self) -> None:
        self.faults: set[tuple[str, int]] = set()
        self._files = {str(f): str(f.relative_to(ROOT)) for f in _source_files()}
        self._original = botocore.client.BaseClient._make_api_call

    def install(self) -> None:
        recorder, original = self, self._original

        def _make_api_call(client, operation_name, api_params):
            try:
                return original(client, operation_name, api_params)
            except (ClientError, BotoCoreError):
                frame = sys._getframe(1)
                while frame is not None:
                    relative = recorder._files.get(frame.f_code.co_filename)
                    if relative:
                        recorder.faults.add((relative, frame.f_lineno))
                    frame = frame.f_back
                raise

        botocore.client.BaseClient._make_api_call = _make_api_call

    def uninstall(self) -> None:
        botocore.client.BaseClient._make_api_call = self._original

    def covered(self, sites: dict[tuple[str, int], tuple[int, str]]) -> set[tuple[str, int]]:
        return {(file, first) for (file, first), (last, _) in sites.items()
                if any(f == file and first <= line <= last for f, line in self.faults)}


_recorder = FaultRecorder()


def pytest_configure(config):
    _recorder.install()


def pytest_unconfigure(config):
    _recorder.uninstall()


def pytest_sessionfinish(session):
    """Under pytest-xdist a worker hands what it recorded to the controller, which prints the figure."""
    output = getattr(session.config, "workeroutput", None)
    if output is not None:
        output["fault_sites"] = sorted(_recorder.faults)


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error):
    _recorder.faults |= {tuple(site) for site in getattr(node, "workeroutput", {}).get("fault_sites", [])}


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter):
    if hasattr(terminalreporter.config, "workeroutput"):
        return  # a worker: the controller reports
    sites = call_sites()
    covered = _recorder.covered(sites)
    terminalreporter.write_line(f"AWS call sites with a fault test in this run: {len(covered)} of {len(sites)} "
                                f"({', '.join(FAULT_SOURCES)}; FAULT_REPORT=1 lists the others)")
    if os.environ.get("FAULT_REPORT"):
        for (file, line), (_, operation) in sorted(sites.items()):
            if (file, line) not in covered:
                terminalreporter.write_line(f"  no fault test: {file}:{line} {operation}")
    REPORT.parent.mkdir(exist_ok=True)
    REPORT.write_text(json.dumps({"covered": len(covered), "sites": len(sites),
                                  "uncovered": [f"{f}:{n} {sites[(f, n)][1]}" for f, n in sorted(set(sites) - covered)]},
                                 indent=1))
