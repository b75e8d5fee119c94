"""The specialty classification tree (评标专家专业分类) and what "qualifies for a specialty" means.

Experts are classified by codes from a tree (the national 2018 classification has the shape A 工程 / B 货物 /
C 服务 with two characters per level below). A plan asks for experts of a node; an expert qualifies when one
of their specialties is that node or lies below it: an expert in A0301 (公路) qualifies for A03 (交通运输工程),
not the other way round. The tree is configuration (evalroom.config ``specialty_tree_file``); this module only
takes it as data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ["Specialty", "SpecialtyTree"]


@dataclass(frozen=True)
class Specialty:
    code: str
    name: str
    parent: str | None


class SpecialtyTree:
    def __init__(self, nodes: Iterable[Specialty]) -> None:
        self._nodes: dict[str, Specialty] = {}
        for node in nodes:
            if node.code in self._nodes:
                raise ValueError(f"specialty {node.code} appears twice in the tree")
            self._nodes[node.code] = node
        for node in self._nodes.values():
            if node.parent is not None and node.parent not in self._nodes:
                raise ValueError(f"specialty {node.code} names an unknown parent {node.parent}")
        for node in self._nodes.values():  # a cycle would make ancestors_or_self loop for ever
            seen, up = {node.code}, node.parent
            while up is not None:
                if up in seen:
                    raise ValueError(f"specialty {node.code} is its own ancestor")
                seen.add(up)
                up = self._nodes[up].parent

    @classmethod
    def from_json(cls, data: Sequence[Mapping[str, Any]]) -> SpecialtyTree:
        """From nested ``[{"code", "name", "children": [...]}, ...]`` (the file format, docs/formats.md)."""
        nodes: list[Specialty] = []

        def walk(items: Sequence[Mapping[str, Any]], parent: str | None) -> None:
            if not isinstance(items, list):
                raise ValueError("'children' must be a list")
            for item in items:
                if not isinstance(item, dict) or not isinstance(item.get("code"), str) \
                        or not isinstance(item.get("name"), str) or set(item) - {"code", "name", "children"}:
                    raise ValueError(f"a specialty is {{code, name, children?}} (got {item!r:.80})")
                nodes.append(Specialty(item["code"], item["name"], parent))
                walk(item.get("children", []), item["code"])

        walk(list(data) if not isinstance(data, list) else data, None)
        return cls(nodes)

    def __contains__(self, code: object) -> bool:
        return code in self._nodes

    def __len__(self) -> int:
        return len(self._nodes)

    def name(self, code: str) -> str:
        return self._nodes[code].name

    def unknown(self, codes: Iterable[str]) -> list[str]:
        """The codes that are not in the tree, sorted."""
        return sorted({c for c in codes if c not in self._nodes})

    def ancestors_or_self(self, code: str) -> list[str]:
        chain = []
        node: str | None = code
        while node is not None:
            chain.append(node)
            node = self._nodes[node].parent
        return chain

    def qualifies(self, requested: str, held: Iterable[str]) -> bool:
        """Whether an expert holding ``held`` qualifies for ``requested`` (that node or one below it)."""
        return any(requested in self.ancestors_or_self(h) for h in held if h in self._nodes)
