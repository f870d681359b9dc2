#!/usr/bin/env python3
"""`make catalog` and `make catalog-site`: the factory's model catalog from the app developer's side.

    python scripts/catalog.py list [QUERY] [--team T] [--json] [--source export.json] [--config f] [--profile p]
    python scripts/catalog.py site --out DIR [--source export.json] [...]

Entries come from the live catalog (the table `mf-catalog` in `factory.catalog`, read with the operator's
credentials, e.g. through the role mf-catalog-reader) or, offline, from an export (`--source`, the format of
`list --json`; `config/catalog-example.json` is the example config's). The site is static: one index with a
search box and filters, one page per model, no server and no network (it opens from the file system).
"""

from __future__ import annotations

import argparse
import html
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lambdas.catalog_publish.entry import CatalogEntry, parse_entry  # noqa: E402
from stacks.common.naming import CATALOG_TABLE  # noqa: E402
from stacks.config.fields import ConfigError  # noqa: E402

EXAMPLE = ROOT / "config" / "catalog-example.json"
PRIMARY_METRIC = {"binary_classification": "auc", "multiclass_classification": "accuracy", "regression": "r2"}


class CatalogError(Exception):
    """One line for the operator."""


# --- reading --------------------------------------------------------------------------------------------

def load_export(path: Path) -> list[CatalogEntry]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise CatalogError(f"{path}: cannot read the export: {error.strerror}") from None
    except json.JSONDecodeError as error:
        raise CatalogError(f"{path}: line {error.lineno}: not JSON: {error.msg}") from None
    return load_export_data(data, source=str(path))


def load_export_data(data: object, source: str = "export") -> list[CatalogEntry]:
    if not isinstance(data, dict) or not isinstance(data.get("entries"), list):
        raise CatalogError(f"{source}: not a catalog export (an object with a list of entries)")
    entries = []
    for index, item in enumerate(data["entries"]):
        try:
            entries.append(parse_entry(item))
        except ValueError as error:
            raise CatalogError(f"{source}: entries[{index}].{error}") from None
    return entries


def scan_table(dynamodb, table: str = CATALOG_TABLE) -> list[CatalogEntry]:
    """Every stored entry (the table holds entries the catalog has already checked)."""
    entries = []
    for page in dynamodb.get_paginator("scan").paginate(TableName=table, ProjectionExpression="entry"):
        entries += [parse_entry(json.loads(item["entry"]["S"])) for item in page.get("Items", [])]
    return entries


def live_entries(config_path: Path, profile: str | None) -> list[CatalogEntry]:
    from stacks.config.factory import load_config

    config = load_config(config_path)
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    account, region = config.catalog_account, config.catalog_region
    try:
        session = boto3.Session(profile_name=profile, region_name=region)
        return scan_table(session.client("dynamodb"))
    except ClientError as error:
        details = error.response.get("Error", {})
        raise CatalogError(f"catalog: cannot read {CATALOG_TABLE} in {account}/{region}: {details.get('Code')}: "
                           f"{details.get('Message', '')} (use credentials of the catalog account, e.g. the role "
                           "mf-catalog-reader, or --source an export)") from None
    except BotoCoreError as error:
        raise CatalogError(f"catalog: cannot read {CATALOG_TABLE} in {account}/{region}: {error}") from None


def select(entries: list[CatalogEntry], *, query: str = "", team: str | None = None) -> list[CatalogEntry]:
    chosen = [e for e in entries if (team is None or e.team == team) and e.matches(query)]
    return sorted(chosen, key=lambda e: (e.team, e.model, e.stage != "prod"))


# --- the command line list --------------------------------------------------------------------------------

def table(entries: list[CatalogEntry]) -> str:
    rows = [("team", "model", "stage", "version", "mode", "problem type", "quality", "call")]
    for e in entries:
        metric = PRIMARY_METRIC[e.problem_type]
        quality = f"{metric} {e.metrics[metric]:.3f}" if metric in e.metrics else "-"
        call = e.serving.url or e.serving.endpoint or e.serving.batch_output or "-"
        rows.append((e.team, e.model, e.stage, str(e.version), e.serving.mode, e.problem_type, quality, call))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows)


def export(entries: list[CatalogEntry]) -> dict:
    return {"catalog": CATALOG_TABLE, "exported_at": datetime.now(timezone.utc).isoformat(),
            "entries": [e.model_dump(mode="json") for e in entries]}


# --- the static site ----------------------------------------------------------------------------------------

def page_name(team: str, model: str) -> str:
    return f"{team}--{model}.html"


STYLE = """body{font-family:system-ui,sans-serif;margin:2rem;max-width:72rem;color:#1d1d1f}
h1{font-size:1.6rem}table{border-collapse:collapse;margin:.5rem 0 1.5rem}td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}
.card{border:1px solid #ccc;border-radius:.4rem;padding:.8rem 1rem;margin:.6rem 0}.muted{color:#666}
pre{background:#f4f4f6;padding:.8rem;overflow-x:auto}input,select{font-size:1rem;padding:.3rem;margin-right:.5rem}"""

INDEX_SCRIPT = """
const models = JSON.parse(document.getElementById('models').textContent);
const search = document.getElementById('search'), team = document.getElementById('team'),
      kind = document.getElementById('problem-type'), mode = document.getElementById('mode');
function render() {
  const words = search.value.toLowerCase().split(/\\s+/).filter(w => w);
  const shown = models.filter(m => (!team.value || m.team === team.value)
    && (!kind.value || m.problem_type === kind.value)
    && (!mode.value || m.modes.includes(mode.value))
    && words.every(w => m.text.includes(w)));
  const list = document.getElementById('results');
  list.replaceChildren(...shown.map(m => {
    const card = document.createElement('div'); card.className = 'card model';
    const link = document.createElement('a'); link.href = 'models/' + m.page; link.textContent = m.team + ' / ' + m.model;
    const about = document.createElement('div'); about.className = 'muted'; about.textContent = m.summary;
    const text = document.createElement('div'); text.textContent = m.description;
    card.append(link, text, about); return card;
  }));
  document.getElementById('count').textContent = shown.length + ' of ' + models.length + ' models';
}
[search, team, kind, mode].forEach(e => ['input', 'change'].forEach(t => e.addEventListener(t, render)));
render();
"""


def _options(element_id: str, label: str, values: list[str]) -> str:
    options = "".join(f'<option value="{html.escape(v)}">{html.escape(v)}</option>' for v in values)
    return f'<label>{label} <select id="{element_id}"><option value="">all</option>{options}</select></label>'


def site(entries: list[CatalogEntry], out: Path) -> list[Path]:
    """index.html and models/<team>--<model>.html; everything inline, so the pages work from file://."""
    by_model: dict[tuple[str, str], list[CatalogEntry]] = {}
    for entry in sorted(entries, key=lambda e: (e.team, e.model, e.stage != "prod")):
        by_model.setdefault((entry.team, entry.model), []).append(entry)
    (out / "models").mkdir(parents=True, exist_ok=True)
    summaries = []
    written = []
    for (team, model), stages in by_model.items():
        first = stages[0]
        summaries.append({
            "team": team, "model": model, "page": page_name(team, model), "problem_type": first.problem_type,
            "description": first.description or "", "modes": sorted({e.serving.mode for e in stages}),
            "summary": " · ".join(f"{e.stage} v{e.version} ({e.serving.mode})" for e in stages),
            "text": first.search_text})
        path = out / "models" / page_name(team, model)
        path.write_text(model_page(team, model, stages), encoding="utf-8")
        written.append(path)
    teams = sorted({s["team"] for s in summaries})
    kinds = sorted({s["problem_type"] for s in summaries})
    index = f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Model catalog</title>
<style>{STYLE}</style></head><body>
<h1>Model catalog</h1>
<p class="muted">Every team's models, what they serve where, and how to call them. Search by name, description,
team, problem type or feature.</p>
<p><label>search <input id="search" type="search" aria-label="search models" autofocus></label>
{_options("team", "team", teams)}{_options("problem-type", "problem type", kinds)}
{_options("mode", "mode", ["realtime", "async", "batch"])}</p>
<p id="count" class="muted"></p><div id="results"></div>
<script id="models" type="application/json">{_json_for_html(summaries)}</script>
<script>{INDEX_SCRIPT}</script></body></html>
"""
    (out / "index.html").write_text(index, encoding="utf-8")
    return [out / "index.html", *written]


def publish_site(s3, files: list[Path], out: Path, target: str) -> int:
    """Copy the site to `s3://bucket/prefix/` (a private bucket: the pages hold no credentials, but they are
    internal); returns how many objects were written."""
    if not target.startswith("s3://") or "/" not in target[5:].rstrip("/") + "/":
        raise CatalogError(f"--publish: must be an s3://<bucket>/<prefix> URI (got {target!r})")
    bucket, _, prefix = target[5:].partition("/")
    prefix = prefix.strip("/")
    for path in files:
        key = "/".join(p for p in (prefix, path.relative_to(out).as_posix()) if p)
        s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes(), ContentType="text/html; charset=utf-8")
    return len(files)


def _json_for_html(value) -> str:
    # inside <script>: no "<" at all, so that neither "</script" nor "<!--" changes how the page is parsed
    return json.dumps(value, sort_keys=True).replace("<", "\\u003c")


def model_page(team: str, model: str, stages: list[CatalogEntry]) -> str:
    e = html.escape
    first = stages[0]
    metrics = sorted({name for s in stages for name in s.metrics})
    metric_rows = "".join(f"<tr><td>{e(m)}</td>" + "".join(
        f"<td>{s.metrics[m]:.4g}</td>" if m in s.metrics else "<td>-</td>" for s in stages) + "</tr>" for m in metrics)
    stage_heads = "".join(f"<th>{e(s.stage)} v{s.version}</th>" for s in stages)
    serving_rows = "".join(
        f"<tr><td>{e(s.stage)}</td><td>{s.version}</td><td>{e(s.serving.mode)}</td>"
        f"<td>{e(s.serving.url or s.serving.endpoint or s.serving.batch_output or '-')}</td>"
        f"<td>{e(s.serving.auth or '-')}</td><td>{e(s.serving.invoke_policy or '-')}</td>"
        f"<td><code>{e(s.model_package_arn)}</code></td><td>{e(s.recorded_at.isoformat())}</td></tr>" for s in stages)
    schema_rows = "".join(f"<tr><td>{e(f.name)}</td><td>{e(f.type)}</td></tr>" for f in first.input_schema.features)
    snippets = "".join(
        f'<h3>{e(s.stage)}: {e(name)}</h3><pre id="snippet-{e(s.stage)}-{e(name)}">{e(text)}</pre>'
        for s in stages for name, text in sorted(s.client.items()))
    lineage = "".join(
        f"<tr><td>{e(s.stage)}</td><td>{e(s.lineage.source_commit or '-')}</td><td>{e(s.lineage.build_execution or '-')}</td>"
        f"<td><code>{e(s.lineage.model_data_url or '-')}</code></td><td>{e(s.lineage.image or '-')}</td></tr>"
        for s in stages)
    cost = next((s.monthly_cost_usd for s in stages if s.monthly_cost_usd is not None), None)
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{e(team)} / {e(model)}</title>
<style>{STYLE}</style></head><body>
<p><a href="../index.html">All models</a></p>
<h1 id="title">{e(team)} / {e(model)}</h1>
<p>{e(first.description or '')}</p>
<p class="muted">{e(first.problem_type)} · owners {e(', '.join(first.owners))} ·
monthly cost {'$' + format(cost, ',.2f') if cost is not None else 'not yet reported'}</p>
<h2>Serving</h2><table id="serving"><tr><th>stage</th><th>version</th><th>mode</th><th>call</th><th>auth</th>
<th>invoke policy</th><th>model package</th><th>recorded</th></tr>{serving_rows}</table>
<h2>Quality</h2><table id="metrics"><tr><th>metric</th>{stage_heads}</tr>{metric_rows}</table>
<h2>Input</h2><p>{e(first.input_schema.content_type)}, one record per line, the columns in this order (no label):</p>
<table id="schema"><tr><th>feature</th><th>type</th></tr>{schema_rows}</table>
<h2>Call it</h2>{snippets}
<h2>Lineage</h2><table id="lineage"><tr><th>stage</th><th>commit</th><th>build</th><th>model data</th><th>image</th></tr>
{lineage}</table></body></html>
"""


# --- command line -------------------------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    listing = commands.add_parser("list", help="list and search the catalog")
    listing.add_argument("query", nargs="?", default="")
    listing.add_argument("--team")
    listing.add_argument("--json", action="store_true", help="an export: {catalog, exported_at, entries}")
    pages = commands.add_parser("site", help="write the static catalog site")
    pages.add_argument("--out", type=Path, required=True)
    pages.add_argument("--publish", help="also copy the site to this s3://<private bucket>/<prefix>")
    for command in (listing, pages):
        command.add_argument("--source", type=Path, help="an export instead of the live catalog")
        command.add_argument("--live", action="store_true", help="the live catalog (factory.catalog), not the example")
        command.add_argument("--config", type=Path, default=ROOT / "config" / "factory.yaml")
        command.add_argument("--profile", help="AWS profile of the catalog account")
    args = parser.parse_args(argv)
    try:
        entries = live_entries(args.config, args.profile) if args.live else load_export(args.source or EXAMPLE)
        if args.command == "site":
            written = site(entries, args.out)
            print(f"catalog site: {len(written) - 1} model page(s) -> {args.out / 'index.html'}")
            if args.publish:
                import boto3
                from botocore.exceptions import BotoCoreError, ClientError

                try:
                    count = publish_site(boto3.Session(profile_name=args.profile).client("s3"), written, args.out,
                                         args.publish)
                except (ClientError, BotoCoreError) as error:
                    raise CatalogError(f"catalog site: cannot publish to {args.publish}: {error}") from None
                print(f"catalog site: {count} page(s) -> {args.publish}")
            return 0
        chosen = select(entries, query=args.query, team=args.team)
        print(json.dumps(export(chosen), indent=2) if args.json else table(chosen))
    except (CatalogError, ConfigError) as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
