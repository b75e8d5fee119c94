"""Committee plans and the rules they must meet (shared/domain.md, "Committee").

A plan says how many members the committee has, how many of them are the tenderer's representatives, and how
the drawn experts are split over venues and specialties: per venue a quota, and per quota a specialty mix
(``{"A0301": 2, "D01": 1}``). Each venue's experts come from its own region's pool.

The rules are a table per project type (configuration, evalroom/data/committee_rules.toml by default): a
minimum size, a larger minimum above a budget or for a complex project, and the share of experts (2/3). Every
committee is odd. :func:`check_plan` finds every problem at once and raises one error that lists them, so a
person fixing a plan sees all of it, not one problem per attempt.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from fractions import Fraction
from typing import Any

from evalroom.domain.specialties import SpecialtyTree
from evalroom.errors import ApiError, ErrorCode

__all__ = ["Plan", "Quota", "RuleTable", "SizeRule", "check_plan"]


@dataclass(frozen=True)
class SizeRule:
    project_type: str
    name: str
    minimum: int
    expert_share: Fraction
    large_budget_yuan: Decimal | None = None
    large_minimum: int | None = None
    complex_minimum: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """The rule as a page shows it beside a plan (``GET /committee/rules``)."""
        return {"project_type": self.project_type, "name": self.name, "minimum": self.minimum,
                "expert_share": str(self.expert_share),
                "large_budget_yuan": str(self.large_budget_yuan) if self.large_budget_yuan is not None else None,
                "large_minimum": self.large_minimum, "complex_minimum": self.complex_minimum}

    def minimum_for(self, budget_yuan: Decimal | None, complex_project: bool) -> int:
        least = self.minimum
        if self.large_budget_yuan is not None and budget_yuan is not None and budget_yuan >= self.large_budget_yuan:
            least = max(least, self.large_minimum or least)
        if complex_project and self.complex_minimum is not None:
            least = max(least, self.complex_minimum)
        return least


class RuleTable:
    """The size rules by project type, read from the configured table (see the module docstring)."""

    def __init__(self, rules: Sequence[SizeRule]) -> None:
        self.rules = {r.project_type: r for r in rules}

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> RuleTable:
        rules = []
        for project_type, raw in data.items():
            if not isinstance(raw, dict):
                raise ValueError(f"[{project_type}] must be a table")
            unknown = set(raw) - {"name", "minimum", "expert_share", "large_budget_yuan", "large_minimum",
                                  "complex_minimum"}
            if unknown:
                raise ValueError(f"[{project_type}]: unknown key(s) {', '.join(sorted(unknown))}")
            try:
                share = Fraction(str(raw["expert_share"]))
                budget = Decimal(str(raw["large_budget_yuan"])) if "large_budget_yuan" in raw else None
                counts = {"minimum": raw["minimum"], "large_minimum": raw.get("large_minimum"),
                          "complex_minimum": raw.get("complex_minimum")}
                if any(v is not None and (not isinstance(v, int) or isinstance(v, bool)) for v in counts.values()):
                    raise ValueError("minimum, large_minimum and complex_minimum are whole numbers")
                rule = SizeRule(project_type=project_type, name=str(raw["name"]), minimum=counts["minimum"],
                                expert_share=share, large_budget_yuan=budget, large_minimum=counts["large_minimum"],
                                complex_minimum=counts["complex_minimum"])
            except KeyError as exc:
                raise ValueError(f"[{project_type}] lacks {exc.args[0]!r}") from None
            except (ValueError, ZeroDivisionError, InvalidOperation) as exc:
                raise ValueError(f"[{project_type}]: {exc}") from None
            if min(v for v in counts.values() if v is not None) < 1 or not 0 < share <= 1 \
                    or (budget is None) != (rule.large_minimum is None):
                raise ValueError(f"[{project_type}]: minimum must be positive, expert_share in (0, 1], and "
                                 "large_budget_yuan and large_minimum go together")
            rules.append(rule)
        if not rules:
            raise ValueError("the rule table names no project type")
        return cls(rules)

    def get(self, project_type: str) -> SizeRule | None:
        return self.rules.get(project_type)


@dataclass(frozen=True)
class Quota:
    """The experts one venue draws from its region's pool."""

    venue_id: str
    region_id: str
    label: str
    """How errors name the venue to whoever reads them (a guest is named by its offer while pairing is blind)."""
    specialties: Mapping[str, int]
    """Specialty code → number of experts."""

    @property
    def count(self) -> int:
        return sum(self.specialties.values())


@dataclass(frozen=True)
class Plan:
    project_type: str
    total: int
    """Members of the committee: drawn experts plus tenderer representatives."""
    representatives: int
    quotas: tuple[Quota, ...]
    budget_yuan: Decimal | None = None
    complex_project: bool = False
    exclude_home_region: bool = False
    """When the rule says so, no expert of the project's own region may sit (全部异地抽取)."""
    home_region_id: str = ""

    @property
    def experts(self) -> int:
        return self.total - self.representatives


def check_plan(plan: Plan, rules: RuleTable, tree: SpecialtyTree) -> None:
    """Raise ApiError(invalid_input) listing every way ``plan`` breaks the rules; return if it meets them."""
    problems: list[tuple[str, str]] = []
    rule = rules.get(plan.project_type)
    if rule is None:
        problems.append(("project_type", f"unknown project type {plan.project_type!r} "
                                         f"(the rule table knows {', '.join(sorted(rules.rules))})"))
    if plan.total % 2 == 0:
        problems.append(("total", f"a committee has an odd number of members (got {plan.total})"))
    if rule is not None:
        least = rule.minimum_for(plan.budget_yuan, plan.complex_project)
        if plan.total < least:
            problems.append(("total", f"a {rule.name} committee has at least {least} members (got {plan.total})"))
    if plan.representatives < 0 or plan.representatives >= plan.total:
        problems.append(("representatives", "the tenderer's representatives must be fewer than the members"))
    elif rule is not None and Fraction(plan.experts, plan.total) < rule.expert_share:
        problems.append(("representatives", f"experts must be at least {rule.expert_share} of the committee: "
                                            f"{plan.experts} of {plan.total} is too few"))
    drawn = sum(q.count for q in plan.quotas)
    if plan.representatives < plan.total and drawn != plan.experts:
        problems.append(("quotas", f"the venue quotas add up to {drawn} experts but the committee has "
                                   f"{plan.experts} expert seats ({plan.total} members, {plan.representatives} "
                                   "representatives)"))
    seen: set[str] = set()
    for i, q in enumerate(plan.quotas):
        where = f"quotas[{i}]"
        if q.venue_id in seen:
            problems.append((where, f"{q.label} has two quotas; give one with its whole specialty mix"))
        seen.add(q.venue_id)
        if not q.specialties:
            problems.append((where, f"{q.label}: the quota names no specialty"))
        if any(n < 1 for n in q.specialties.values()):
            problems.append((where, f"{q.label}: every specialty needs at least one expert"))
        unknown = tree.unknown(q.specialties)
        if unknown:
            problems.append((where, f"{q.label}: unknown specialty {', '.join(unknown)} (not in the classification)"))
        if plan.exclude_home_region and q.region_id == plan.home_region_id and q.count > 0:
            problems.append((where, f"{q.label} draws from the project's own region, which this plan excludes"))
    if problems:
        raise ApiError(ErrorCode.INVALID_INPUT, "the committee plan breaks the rules: "
                       + "; ".join(f"{w}: {m}" for w, m in problems),
                       details=[{"loc": w, "msg": m} for w, m in problems])
