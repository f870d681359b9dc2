"""Synthesize a factory in-process, the way app.py does, with the project's cdk.json context."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
from aws_cdk.assertions import Template

from stacks.common.nag import Finding, synth_and_report
from stacks.common.synthesis import APP_CONTEXT
from stacks.config.factory import FactoryConfig
from stacks.factory_app import build_factory
from stacks.team_stage import TeamStage

ROOT = Path(__file__).resolve().parents[1]


def project_context() -> dict:
    context = json.loads((ROOT / "cdk.json").read_text())["context"]
    # the CLI disables stack traces unless --debug; do the same so synth time matches real runs
    return {**context, "aws:cdk:disable-stack-trace": True, **APP_CONTEXT}


@dataclass
class SynthesizedFactory:
    outdir: Path
    stages: dict[str, TeamStage]
    findings: list[Finding]

    def template(self, team: str) -> Template:
        return Template.from_stack(self.stages[team].foundation)

    def build_template(self, team: str, model: str) -> Template:
        return Template.from_stack(self.stages[team].builds[model])

    def catalog_template(self) -> Template:
        (path,) = self.outdir.glob("assembly-catalog/*.template.json")
        return Template.from_json(json.loads(path.read_text()))

    def template_files(self) -> list[Path]:
        return sorted(self.outdir.glob("assembly-*/*.template.json"))


def synthesize(config: FactoryConfig, outdir: Path) -> SynthesizedFactory:
    app = cdk.App(outdir=str(outdir), context=project_context())
    stages = build_factory(app, config)
    return SynthesizedFactory(outdir=outdir, stages=stages, findings=synth_and_report(app))
