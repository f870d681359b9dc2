"""``mf-catalog``: the factory's model catalog, in `factory.catalog` (see stacks/catalog/model_catalog.py)."""

from __future__ import annotations

from collections.abc import Mapping

import aws_cdk as cdk
from constructs import Construct

from stacks.catalog.model_catalog import ModelCatalog


class CatalogStack(cdk.Stack):
    def __init__(self, scope: Construct, construct_id: str, *, team_accounts: Mapping[str, str], **kwargs) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.catalog = ModelCatalog(self, "Catalog", team_accounts=team_accounts)
