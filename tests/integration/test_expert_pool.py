"""Expert pools (专家库) through the HTTP API on SQLite and PostgreSQL: import from JSON and CSV (Chinese
headers), re-import (unchanged / updated), identity numbers that never leave the coordinator unmasked, the
all-or-nothing rule with every bad row named, a person already in another region's pool, and a change of
credit status that the next draw honours."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from committee_world import (
    API,
    GUEST_AREA,
    HOST_AREA,
    CommitteeWorld,
    bearer,
    build,
    draw,
    draw_records,
    events,
    expert_row,
    members,
    new_id_number,
    ok,
    refused,
    snapshot,
)
from conftest import unique_code
from fastapi.testclient import TestClient
from sqlalchemy import select
from timebase import iso

from evalroom.api.context import AppContext
from evalroom.config import Settings, load_settings
from evalroom.domain.roles import Principal, Role
from evalroom.schemas import RegionCreate
from evalroom.services import registry
from evalroom.services.experts import ID_CONTEXT
from evalroom.storage.models import Base, Expert

pytestmark = pytest.mark.dates


@pytest.fixture
def settings(tmp_path: Path, db_url: str) -> Settings:
    return load_settings(environ={}, overrides={"data_dir": tmp_path, "database_url": db_url,
                                                "environment": "development", "housekeeping_seconds": 300,
                                                "log_batch_seconds": 300})


class Pools:
    def __init__(self, ctx: AppContext, client: TestClient) -> None:
        self.ctx, self.client = ctx, client
        with ctx.store.write() as tx:
            self.shandong = registry.create_region(tx, "system:test", RegionCreate(code=unique_code("R"), name="山东省")).id
            self.shaanxi = registry.create_region(tx, "system:test", RegionCreate(code=unique_code("R"), name="陕西省")).id

    def admin(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.ctx.tokens.issue(Principal(role=Role.COORDINATOR_ADMIN, subject='a')).token}"}

    def post(self, region_id: str, content: str, fmt: str = "json", headers: dict[str, str] | None = None) -> Any:
        return self.client.post(f"{API}/regions/{region_id}/experts/import", headers=headers or self.admin(),
                                json={"format": fmt, "content": content})

    def import_json(self, region_id: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
        return ok(self.post(region_id, as_json(rows)))

    def listed(self, region_id: str) -> list[dict[str, Any]]:
        return ok(self.client.get(f"{API}/regions/{region_id}/experts", headers=self.admin()))


@pytest.fixture
def pools(ctx: AppContext, client: TestClient) -> Pools:
    return Pools(ctx, client)


def as_json(rows: list[dict[str, Any]]) -> str:
    return json.dumps(rows, ensure_ascii=False)


def masked(number: str) -> str:
    return number[:6] + "*" * 8 + number[-4:]


def three_rows() -> list[dict[str, Any]]:
    return [
        expert_row("张伟", HOST_AREA, ["B0101"], code="SD-0001", certificate="SDCA 00A1"),
        expert_row("王芳", HOST_AREA, ["D01", "B01"], code="SD-0002", credit_status="active", punished=False,
                   ties=["某建设集团有限公司"], unavailable=[f"{iso(10)}..{iso(12)}", iso(19)],
                   evaluations=[{"date": iso(-51), "tenderer": "某市交通局"}]),
        expert_row("李娜", HOST_AREA, ["C01"]),
    ]


# --- import -----------------------------------------------------------------------------------------------
def test_json_and_csv_imports_count_and_reimports_update_only_what_changed(pools: Pools) -> None:
    rows = three_rows()
    content = as_json(rows)
    first = ok(pools.post(pools.shandong, content))
    assert first == {"region_id": pools.shandong, "created": 3, "updated": 0, "unchanged": 0,
                     "file_sha256": hashlib.sha256(content.encode()).hexdigest()}
    listed = {e["name"]: e for e in pools.listed(pools.shandong)}
    assert set(listed) == {"张伟", "王芳", "李娜"}
    fang = listed["王芳"]
    assert (fang["code"], fang["specialties"], fang["ties"], fang["credit_status"], fang["punished"]) == \
        ("SD-0002", ["B01", "D01"], ["某建设集团有限公司"], "active", False)
    assert fang["unavailable"] == [[iso(10), iso(12)], [iso(19), iso(19)]]
    assert fang["recent_evaluations"] == [{"date": iso(-51), "tenderer": "某市交通局", "source": "import"}]
    assert listed["张伟"]["certificate"] == "SDCA 00A1" and listed["李娜"]["code"] is None

    # CSV with Chinese headers and cells (是/否, 暂停, lists separated by ';').
    a, b = new_id_number(GUEST_AREA), new_id_number(GUEST_AREA)
    csv_text = ("\ufeff姓名,身份证号,工作单位,评标专业,专家编号,信用状态,曾受处罚,利害关系单位,不可参评日期,近期评标\n"
                f"赵敏,{a},西安某设计院,B01;D01,SX-01,正常,否,,{iso(14)}..{iso(15)},{iso(-20)}:某市交通局\n"
                f"孙强,{b},西安某大学,B0102,SX-02,暂停,是,甲公司；乙公司,,\n")
    assert ok(pools.post(pools.shaanxi, csv_text, "csv"))["created"] == 2
    by_name = {e["name"]: e for e in pools.listed(pools.shaanxi)}
    min_, qiang = by_name["赵敏"], by_name["孙强"]
    assert (min_["specialties"], min_["credit_status"], min_["punished"], min_["unavailable"]) == \
        (["B01", "D01"], "active", False, [[iso(14), iso(15)]])
    assert min_["recent_evaluations"] == [{"date": iso(-20), "tenderer": "某市交通局", "source": "import"}]
    assert (qiang["credit_status"], qiang["punished"], qiang["ties"]) == ("suspended", True, ["甲公司", "乙公司"])

    # The same file again changes nothing; a changed row is updated, the others are not.
    assert ok(pools.post(pools.shandong, content))["unchanged"] == 3
    assert ok(pools.post(pools.shaanxi, csv_text, "csv"))["unchanged"] == 2
    rows[1] = {**rows[1], "employer": "山东某咨询公司", "punished": True}
    again = pools.import_json(pools.shandong, rows)
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 1, 2)
    fang_now = ok(pools.client.get(f"{API}/experts/{fang['id']}", headers=pools.admin()))
    assert (fang_now["id"], fang_now["employer"], fang_now["punished"]) == (fang["id"], "山东某咨询公司", True)
    assert len(pools.listed(pools.shandong)) == 3

    imported = [e["payload"] for e in ok(pools.client.get(f"{API}/events", headers=pools.admin(),
                                                          params={"limit": 1000}))["events"]
                if e["kind"] == "experts.imported"]
    assert [(p["region_id"], p["format"], p["rows"], len(p["created"]), len(p["updated"]), p["unchanged"])
            for p in imported] == [(pools.shandong, "json", 3, 3, 0, 0), (pools.shaanxi, "csv", 2, 2, 0, 0),
                                   (pools.shandong, "json", 3, 0, 0, 3), (pools.shaanxi, "csv", 2, 0, 0, 2),
                                   (pools.shandong, "json", 3, 0, 1, 2)]
    assert imported[-1]["updated"] == [fang["id"]]


def test_identity_numbers_never_leave_unmasked(pools: Pools) -> None:
    rows = three_rows()
    numbers = [r["id_number"] for r in rows]
    pools.import_json(pools.shandong, rows)
    listed = pools.listed(pools.shandong)
    assert sorted(e["id_number"] for e in listed) == sorted(masked(n) for n in numbers)
    one = ok(pools.client.get(f"{API}/experts/{listed[0]['id']}", headers=pools.admin()))
    patched = ok(pools.client.patch(f"{API}/experts/{listed[0]['id']}", headers=pools.admin(),
                                    json={"punished": True, "reason": "2025年评标违规被通报"}))
    # A rejected file does not echo the numbers either (a duplicate row and an in-other-pool row).
    rejected = [refused(pools.post(pools.shandong, as_json(rows + [rows[0]])), 422, "import_rejected"),
                refused(pools.post(pools.shaanxi, as_json(rows)), 422, "import_rejected")]
    all_events = ok(pools.client.get(f"{API}/events", headers=pools.admin(), params={"limit": 1000}))
    shown = json.dumps([listed, one, patched, rejected, all_events], ensure_ascii=False)
    assert not [n for n in numbers if n in shown]
    assert all(masked(n) in shown for n in numbers)

    # Stored: a keyed hash, a sealed value that opens to the number, and the masked form; nothing else.
    with pools.ctx.store.read() as s:
        stored = {e.name: e for e in s.scalars(select(Expert))}
        everything = "\n".join(repr(tuple(row)) for t in Base.metadata.sorted_tables for row in s.execute(select(t)))
    for r in rows:
        e = stored[r["name"]]
        assert r["id_number"] not in e.id_number_sealed and e.id_number_sealed != r["id_number"]
        assert pools.ctx.sealer.open(e.id_number_sealed, ID_CONTEXT).decode() == r["id_number"]
        assert e.id_number_hash == pools.ctx.sealer.lookup(r["id_number"], ID_CONTEXT) != r["id_number"]
        assert e.id_number_masked == masked(r["id_number"])
    assert not [n for n in numbers if n in everything], "a plain identity number is stored somewhere"


# --- all or nothing ---------------------------------------------------------------------------------------
def test_a_file_with_one_bad_row_imports_nothing_and_names_row_field_and_code(pools: Pools) -> None:
    def good() -> list[dict[str, Any]]:
        return [expert_row(f"好{i}", HOST_AREA, ["B0101"]) for i in range(3)]

    def bad_check_digit() -> dict[str, Any]:
        row = expert_row("坏校验", HOST_AREA, ["B01"])
        row["id_number"] = row["id_number"][:-1] + ("0" if row["id_number"][-1] != "0" else "1")
        return row

    def missing_employer() -> dict[str, Any]:
        row = expert_row("缺单位", HOST_AREA, ["B01"])
        del row["employer"]
        return row

    def files() -> dict[str, tuple[list[dict[str, Any]], list[tuple[int, str, str]]]]:
        rows = good()
        return {
            "the same person twice": (rows + [{**rows[0], "name": "重复"}], [(4, "id_number", "duplicate")]),
            "a wrong check digit": (good()[:2] + [bad_check_digit()] + good()[2:], [(3, "id_number", "invalid")]),
            "an unknown specialty": (good() + [expert_row("怪专业", HOST_AREA, ["B01", "Z99"])],
                                     [(4, "specialties", "unknown_specialty")]),
            "a missing field": ([missing_employer()] + good(), [(1, "employer", "missing")]),
        }

    for name, (rows, expected) in files().items():
        before = snapshot(pools.ctx)
        error = refused(pools.post(pools.shandong, as_json(rows)), 422, "import_rejected")
        assert [(d["row"], d["field"], d["code"]) for d in error["details"]] == expected, name
        assert all(d["message"] for d in error["details"])
        assert error["message"].startswith("nothing was imported: 1 error(s)"), error["message"]
        assert snapshot(pools.ctx) == before, name
        assert pools.listed(pools.shandong) == []

    # All at once: every problem is listed, in one answer.
    rows = good()
    combined = rows + [bad_check_digit(), expert_row("怪专业", HOST_AREA, ["Z99"]), missing_employer(),
                       {**rows[1], "name": "重复"}]
    before = snapshot(pools.ctx)
    error = refused(pools.post(pools.shandong, as_json(combined)), 422, "import_rejected")
    assert sorted((d["row"], d["field"], d["code"]) for d in error["details"]) == [
        (4, "id_number", "invalid"), (5, "specialties", "unknown_specialty"), (6, "employer", "missing"),
        (7, "id_number", "duplicate")]
    # The same in CSV: rows are numbered from the first expert, not the header line.
    person = rows[0]
    csv_text = ("姓名,身份证号,工作单位,专业\n" + "".join(f"{r['name']},{r['id_number']},{r['employer']},B01\n" for r in rows)
                + f"重复,{person['id_number']},某单位,B01\n")
    error = refused(pools.post(pools.shandong, csv_text, "csv"), 422, "import_rejected")
    assert [(d["row"], d["field"], d["code"]) for d in error["details"]] == [(4, "id_number", "duplicate")]
    assert snapshot(pools.ctx) == before

    # Admins only, and an unknown region is not found.
    operator = bearer(pools.ctx.tokens.issue(Principal(role=Role.SUPERVISOR, subject="s")).token)
    refused(pools.post(pools.shandong, as_json(good()), headers=operator), 403, "forbidden")
    refused(pools.post("00000000-0000-0000-0000-000000000000", as_json(good())), 404, "not_found")
    assert snapshot(pools.ctx) == before
    assert pools.import_json(pools.shandong, rows)["created"] == 3  # the good rows alone import


def test_a_person_in_another_regions_pool_is_refused(pools: Pools) -> None:
    person = expert_row("刘洋", HOST_AREA, ["B01"], code="E001")
    pools.import_json(pools.shandong, [person])
    before = snapshot(pools.ctx)
    newcomer = expert_row("陈静", GUEST_AREA, ["B01"])
    error = refused(pools.post(pools.shaanxi, as_json([newcomer, {**person, "employer": "西安某院"}])),
                    422, "import_rejected")
    assert [(d["row"], d["field"], d["code"]) for d in error["details"]] == [(2, "id_number", "in_other_pool")]
    # A pool number already held by another expert of the region is refused as well.
    error = refused(pools.post(pools.shandong, as_json([expert_row("周杰", HOST_AREA, ["B01"], code="E001")])),
                    422, "import_rejected")
    assert [(d["row"], d["field"], d["code"]) for d in error["details"]] == [(1, "code", "duplicate")]
    assert snapshot(pools.ctx) == before
    assert pools.listed(pools.shaanxi) == [] and len(pools.listed(pools.shandong)) == 1


# --- credit status ----------------------------------------------------------------------------------------
def test_a_suspended_expert_is_excluded_from_the_draw(ctx: AppContext, client: TestClient) -> None:
    w: CommitteeWorld = build(ctx, client)
    target = w.expert_ids["专家H1"]
    url = f"{API}/experts/{target}"
    body = {"credit_status": "suspended", "reason": "年度考核不合格，暂停一年"}
    before = snapshot(ctx)
    for headers, status in ((w.host_op(), 403), (w.supervisor(), 403), ({}, 401)):
        assert client.patch(url, headers=headers, json=body).status_code == status
    refused(client.patch(url, headers=w.admin(), json={"credit_status": "active", "reason": "x"}), 422,
            "invalid_input")  # changes nothing
    refused(client.patch(url, headers=w.admin(), json={"credit_status": "retired", "reason": "x"}), 422,
            "validation_failed")
    assert snapshot(ctx) == before

    changed = ok(client.patch(url, headers=w.admin(), json=body))
    assert (changed["credit_status"], changed["credit_reason"]) == ("suspended", "年度考核不合格，暂停一年")
    updated = [e for e in ok(client.get(f"{API}/events", headers=w.admin(), params={"limit": 1000}))["events"]
               if e["kind"] == "expert.updated"]
    assert len(updated) == 1 and updated[0]["payload"] == {"expert_id": target, "reason": "年度考核不合格，暂停一年",
                                                           "credit_status": "suspended"}

    # Importing the pool again with a file that says nothing of credit status does not lift the suspension.
    row = {"name": "专家H1", "id_number": w.id_numbers["专家H1"], "employer": "新单位", "specialties": ["B0101"]}
    again = ok(client.post(f"{API}/regions/{w.host_region_id}/experts/import", headers=w.admin(),
                           json={"format": "json", "content": json.dumps([row], ensure_ascii=False)}))
    assert (again["updated"], again["created"]) == (1, 0)
    after = ok(client.get(url, headers=w.admin()))
    assert (after["employer"], after["credit_status"], after["credit_reason"]) == \
        ("新单位", "suspended", "年度考核不合格，暂停一年")

    drawn = draw(w)[0]
    performed = draw_records(events(w))[drawn["draw_id"]]["performed"]["payload"]
    assert {x["expert_id"]: x["reasons"] for x in performed["excluded"]} == {target: ["suspended"]}
    assert target not in {p["expert_id"] for p in performed["pool"]}
    assert target not in {m["expert_id"] for m in members(w)}
