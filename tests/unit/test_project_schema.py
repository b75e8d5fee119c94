"""The published JSON Schema of the project file (docs/project.schema.json) agrees with the importer.

The importer (evalroom/domain/project.py) is the authority and checks more than a schema can (a group's max is
the sum of its items, bids name known bidders, parts suit the method); the schema is what a trading system
validates its export with. So: every file the importer accepts here, the schema accepts; every structural
mistake the schema catches, the importer refuses too.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from evalroom.demo import demo_project
from evalroom.domain.project import parse_project
from evalroom.errors import ApiError

SCHEMA = json.loads((Path(__file__).resolve().parents[2] / "docs" / "project.schema.json").read_text("utf-8"))
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def lowest_price() -> dict[str, Any]:
    doc = copy.deepcopy(demo_project())
    del doc["price_rule"]
    doc["method"] = "lowest_price"
    doc["criteria"] = [{"code": "A", "name": "价格调整", "part": "adjustment", "children": [
        {"code": "A1", "name": "技术偏差调整", "min": "-50000", "max": "50000"}]}]
    return doc


@pytest.mark.parametrize("doc", [demo_project(), lowest_price()], ids=["comprehensive", "lowest_price"])
def test_the_schema_accepts_what_the_importer_accepts(doc: dict[str, Any]) -> None:
    parse_project(doc)
    VALIDATOR.validate(doc)


MISTAKES = {
    "unknown top-level field": lambda d: d.update(candidate=2),
    "float price": lambda d: d["lots"][0]["bids"][0].update(price=98650000.0),
    "unknown method": lambda d: d.update(method="lowest_bid"),
    "four candidates": lambda d: d.update(candidates=4),
    "bad bidder code": lambda d: d["bidders"][0].update(code="甲"),
    "unknown criterion field": lambda d: d["criteria"][0]["children"][0].update(maximum="20"),
    "no lots": lambda d: d.update(lots=[]),
}


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_structural_mistakes_are_caught_by_both(mistake: str) -> None:
    doc = copy.deepcopy(demo_project())
    MISTAKES[mistake](doc)
    assert list(VALIDATOR.iter_errors(doc)), mistake
    with pytest.raises(ApiError) as info:
        parse_project(doc)
    assert info.value.code.value == "import_rejected"
