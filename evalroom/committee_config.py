"""The committee's configuration files: the specialty classification and the committee-size rule table.

Read once at start (a bad file stops the coordinator with a ConfigError naming it, like any setting), from the
files the settings name or else from the defaults shipped in evalroom/data.
"""

from __future__ import annotations

import json
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

from evalroom.config import Settings
from evalroom.domain.committee_rules import RuleTable
from evalroom.domain.specialties import SpecialtyTree
from evalroom.errors import ConfigError

__all__ = ["CommitteeConfig", "load_committee_config"]


@dataclass(frozen=True)
class CommitteeConfig:
    tree: SpecialtyTree
    rules: RuleTable


def _read(path: Path | None, default: str, setting: str) -> tuple[bytes, str]:
    if path is None:
        return resources.files("evalroom.data").joinpath(default).read_bytes(), f"built-in {default}"
    try:
        return path.read_bytes(), str(path)
    except OSError as exc:
        raise ConfigError(f"{setting}: cannot read {path}: {exc.strerror}") from None


@lru_cache(maxsize=16)
def load_committee_config(settings: Settings) -> CommitteeConfig:
    """Read once per settings (cached): the files are configuration, fixed while a coordinator runs."""
    raw, where = _read(settings.specialty_tree_file, "specialties.json", "specialty_tree_file")
    try:
        tree = SpecialtyTree.from_json(json.loads(raw))
    except ValueError as exc:
        raise ConfigError(f"specialty_tree_file ({where}): {exc}") from None
    raw, where = _read(settings.committee_rules_file, "committee_rules.toml", "committee_rules_file")
    try:
        rules = RuleTable.from_mapping(tomllib.loads(raw.decode()))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ConfigError(f"committee_rules_file ({where}): {exc}") from None
    return CommitteeConfig(tree=tree, rules=rules)
