"""The evaluation report PDF (evalroom/report_pdf.py), checked with poppler the way a reader's machine sees it.

These tests need poppler-utils (pdffonts, pdftoppm, pdftotext, pdfinfo); tests/run.sh installs it. A missing tool
fails the test rather than skipping it: skipping would hide exactly the check that the fonts are embedded.
This machine has no Chinese font installed, so a glyph that was not embedded would render as nothing.
"""

from __future__ import annotations

import copy
import json
import logging
import os
import re
import shutil
import subprocess
import sys
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from timebase import iso

from evalroom.report_pdf import default_font_path, render_report_pdf

SAMPLE = Path(__file__).resolve().parents[1] / "data" / "report-sample.json"
CENT = Decimal("0.01")


def poppler(tool: str, *args: str | Path) -> str:
    path = shutil.which(tool)
    assert path, f"{tool} is missing: install poppler-utils (bash tests/run.sh does)"
    return subprocess.run([path, *map(str, args)], check=True, capture_output=True, text=True).stdout


def font_rows(pdf: Path) -> list[dict[str, str]]:
    """pdffonts' table as dicts; the dashes under the heading give the column widths (names may hold spaces)."""
    lines = poppler("pdffonts", pdf).splitlines()
    names = lines[0].split()[:-2] + ["object ID"]
    spans = [m.span() for m in re.finditer(r"-+", lines[1])]
    return [{name: line[a:b].strip() for name, (a, b) in zip(names, spans, strict=True)} for line in lines[2:]]


def page_text(pdf: Path, page: int | None = None) -> str:
    pages = ("-f", str(page), "-l", str(page)) if page else ()
    return poppler("pdftotext", *pages, pdf, "-")


def flat(text: str) -> str:
    """Text without whitespace: pdftotext breaks lines where a cell wraps."""
    return re.sub(r"\s+", "", text)


def page_count(pdf: Path) -> int:
    return int(re.search(r"^Pages:\s+(\d+)", poppler("pdfinfo", pdf), re.M).group(1))


def read_pgm(path: Path) -> tuple[int, int, bytes]:
    """A binary greyscale PGM (P5, maxval 255) as width, height and one byte per pixel."""
    data = path.read_bytes()
    magic, width, height, maxval, _ = data.split(maxsplit=4)
    assert (magic, maxval) == (b"P5", b"255")
    w, h = int(width), int(height)
    return w, h, data[len(data) - w * h:]


def write(tmp: Path, name: str, pdf: bytes) -> Path:
    path = tmp / name
    path.write_bytes(pdf)
    return path


@pytest.fixture(scope="module")
def sample() -> dict[str, Any]:
    return json.loads(SAMPLE.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def sample_pdf(sample: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write(tmp_path_factory.mktemp("report"), "sample.pdf", render_report_pdf(sample))


# --- a report generator, for sizes the sample does not reach ----------------------------------------------------

SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧"
GIVEN = ["伟", "芳", "娜", "敏", "静", "丽", "强", "磊", "军", "洋", "勇", "艳", "杰", "娟", "涛", "明", "超", "秀英",
         "华", "慧", "建国", "志强"]
CITIES = ["济南", "青岛", "烟台", "潍坊", "临沂", "淄博", "济宁", "泰安", "威海", "日照", "德州", "聊城", "滨州",
          "菏泽", "枣庄", "东营"]
TRADES = ["路桥建设", "市政工程", "建工集团", "交通建设", "水利水电工程", "城建工程"]
CRITERIA = ["施工方案与技术措施", "质量管理体系与措施", "安全管理体系与措施", "环境保护管理体系与措施",
            "工程进度计划与措施", "资源配备计划", "施工总平面布置", "新技术新工艺新材料应用", "冬雨季施工措施",
            "文明施工与扬尘治理措施", "项目管理机构", "企业资质证书", "类似工程业绩", "企业信誉", "财务状况"]
LONG_TEXT = ("该评委对乙公司施工组织设计中关于冬季施工、夜间施工、交通导改和地下管线保护的措施逐项核对，"
             "认为其深度不满足招标文件第三章评分细则的要求，故按细则扣分；经组长确认，该说明理由充分，予以采纳。")


def money(value: Decimal) -> str:
    return str(value.quantize(CENT, ROUND_HALF_UP))


def trimmed(values: dict[str, Decimal]) -> tuple[list[str], Decimal]:
    """The aggregation rule: with 5 or more values drop the highest and the lowest, then the mean."""
    ordered = sorted(values, key=lambda m: (values[m], m))
    dropped = [ordered[-1], ordered[0]] if len(values) >= 5 else []
    kept = [values[m] for m in values if m not in dropped]
    return dropped, (sum(kept, Decimal(0)) / len(kept)).quantize(CENT, ROUND_HALF_UP)


def build_report(experts: int = 5, bidders: int = 3, criteria: int = 4, *,
                 method: str = "comprehensive") -> dict[str, Any]:
    """A valid ``evalroom-report-v1`` document of any size: one lot, the last bidder rejected (from 3 bidders on),
    a deviation flag, a corrected objective flag, a dissent and a post-report correction."""
    lowest = method == "lowest_price"
    members = [{"member_id": f"m{i + 1}", "name": SURNAMES[i % len(SURNAMES)] + GIVEN[(i * 7) % len(GIVEN)],
                "kind": "expert", "specialty": f"A01{i % 3 + 1:02d}"} for i in range(experts)]
    guests = experts // 4  # two guest venues lend a quarter of the experts each: 9 = 5 + 2 + 2
    host = experts - 2 * guests
    venues = [{"venue_id": "v-host", "name": "济南市公共资源交易中心", "role": "host", "members": members[:host]}]
    venues += [{"venue_id": f"v-{code}", "name": name, "role": "guest", "members": group}
               for code, name, group in (("xa", "西安市公共资源交易中心", members[host:host + guests]),
                                         ("cd", "成都市公共资源交易中心", members[host + guests:])) if group]
    venue_of = {m["member_id"]: v["name"] for v in venues for m in v["members"]}
    codes = [f"B{j + 1}" for j in range(bidders)]
    names = {code: f"{CITIES[j % len(CITIES)]}{TRADES[j % len(TRADES)]}有限公司" for j, code in enumerate(codes)}
    rejected = codes[-1:] if bidders >= 3 else []
    valid = [code for code in codes if code not in rejected]
    crits = [_criterion(k, criteria, lowest) for k in range(criteria)]
    prices = {code: Decimal(9_000_000 + (j * 7919 * 100) % 1_000_000) for j, code in enumerate(codes)}

    items = {(m["member_id"], code): {c["code"]: _item(e, j, k, c, lowest) for k, c in enumerate(crits)}
             for e, m in enumerate(members) for j, code in enumerate(valid)}
    sheets = [{"member_id": m["member_id"], "name": m["name"], "venue": venue_of[m["member_id"]],
               "version": 2 if e == 1 else 1, "sha256": f"{e:02x}" * 32, "submitted_at": f"{iso(0)}T02:10:00Z",
               "bids": [{"bid": f"L1/{code}", "items": {c: money(v) for c, v in items[m["member_id"], code].items()},
                         "subtotal": money(sum(items[m["member_id"], code].values(), Decimal(0)))}
                        for code in valid]}
              for e, m in enumerate(members)]
    price, rows = _results(members, valid, crits, items, prices, lowest)
    order = sorted(rows, key=lambda r: r["rank"])
    return {
        "format": "evalroom-report-v1", "version": 1, "generated_at": f"{iso(0)}T07:30:00Z",
        "rounding": "ROUND_HALF_UP, 2 places", "aggregation": "trimmed_mean",
        "session": {"id": "s-1", "code": "JN-2026-0999", "title": "生成的评标会话",
                    "host_venue": {"id": "v-host", "name": "济南市公共资源交易中心", "region": "370100"},
                    "started_at": f"{iso(0)}T01:00:00Z", "ended_at": None},
        "project": {"code": "SDGC-2026-0999", "name": "生成的道路改造工程施工", "kind": "works", "method": method,
                    "tenderer": "济南市城市建设集团",
                    "price_rule": None if lowest else {"kind": "lowest_benchmark", "points": "30.00"},
                    "candidates": 3, "tie_break": ["lower_price", "higher_technical"],
                    "lots": [{"code": "L1", "name": "第一标段"}],
                    "bidders": [{"code": code, "name": names[code]} for code in codes], "criteria": crits},
        "committee": {"chair": {"member_id": "m1", "name": members[0]["name"]}, "venues": venues},
        "review": {"bids": [{"bid": f"L1/{code}", "lot": "L1", "bidder": code, "passed": code in valid,
                             "fail_votes": 0 if code in valid else experts,
                             "reasons": [] if code in valid else [f"{m['member_id']}: 项目经理无注册建造师证书"
                                                                  for m in members]} for code in codes]},
        "sheets": sheets,
        "flags": _flags(members, valid, crits),
        "price": price,
        "results": [{"lot": "L1", "rows": rows, "rejected": [{"bid": f"L1/{c}", "bidder": c} for c in rejected],
                     "candidates": [{"rank": r["rank"], "bid": r["bid"], "bidder": r["bidder"], "final": r["final"]}
                                    for r in order[:3]]}],
        "dissent": [{"member_id": members[-1]["member_id"], "name": members[-1]["name"], "text": LONG_TEXT,
                     "at": f"{iso(0)}T03:00:00Z"}],
        "corrections": [{"member_id": "m1", "bid": f"L1/{valid[0]}", "criterion": crits[0]["code"], "old": "1.00",
                         "new": "2.00", "cause": "sum_error", "reason": "小计加总错误", "at": f"{iso(1)}T01:00:00Z"}],
        "signatories": [{"member_id": m["member_id"], "name": m["name"], "venue": venue_of[m["member_id"]],
                         "role": "chair" if e == 0 else "member"} for e, m in enumerate(members)],
    }


def _criterion(k: int, count: int, lowest: bool) -> dict[str, Any]:
    name = CRITERIA[k % len(CRITERIA)] + (f"（{k // len(CRITERIA) + 1}）" if k >= len(CRITERIA) else "")
    if lowest:
        return {"code": f"A{k + 1:03d}", "name": name, "part": "adjustment", "max": "50000.00", "objective": False}
    technical = k < count * 2 // 3 or count == 1
    return {"code": f"{'T' if technical else 'C'}{k + 1:03d}", "name": name,
            "part": "technical" if technical else "commercial", "max": "5.00" if technical else "2.00",
            "objective": not technical}


def _item(e: int, j: int, k: int, criterion: dict[str, Any], lowest: bool) -> Decimal:
    if lowest:
        return Decimal(((e * 7 + j * 13 + k * 5) % 41 - 20) * 1000)
    seed = j * 13 + k * 5 + (0 if criterion["objective"] else e * 7)
    return (Decimal(criterion["max"]) * Decimal(55 + seed % 45) / 100).quantize(CENT, ROUND_HALF_UP)


def _results(members: list[dict[str, Any]], valid: list[str], crits: list[dict[str, Any]],
             items: dict[tuple[str, str], dict[str, Decimal]], prices: dict[str, Decimal],
             lowest: bool) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """Price scores and the summary rows, computed as the evaluation service would (only plausibility matters)."""
    benchmark = min(prices[code] for code in valid)
    scores = {code: (benchmark / prices[code] * 30).quantize(CENT, ROUND_HALF_UP) for code in valid}
    ids = [m["member_id"] for m in members]
    rows = []
    for code in valid:
        # Criterion codes start with the part's letter: A(djustment), T(echnical), C(ommercial).
        parts = {(m, p): sum((v for c, v in items[m, code].items() if c[0] == p), Decimal(0)) for m in ids for p in "ATC"}
        if lowest:
            totals = {m: prices[code] + parts[m, "A"] for m in ids}
            dropped, final = trimmed(totals)
            extra: dict[str, str] = {}
        else:
            totals = {m: parts[m, "T"] + parts[m, "C"] + scores[code] for m in ids}
            dropped, _ = trimmed(totals)
            kept = [m for m in ids if m not in dropped]
            extra = {name: money(sum((parts[m, p] for m in kept), Decimal(0)) / len(kept))
                     for name, p in (("technical", "T"), ("commercial", "C"))}
            extra["price_score"] = money(scores[code])
            final = sum((Decimal(v) for v in extra.values()), Decimal(0))
        rows.append({"bid": f"L1/{code}", "bidder": code, "price": money(prices[code]),
                     "totals": {m: money(v) for m, v in totals.items()}, "dropped": dropped, **extra,
                     "final": money(final), "tie": False})
    ranked = sorted(rows, key=lambda r: Decimal(r["final"]), reverse=not lowest)
    for rank, row in enumerate(ranked, 1):
        row["rank"] = rank
    price = None if lowest else {"rule": "lowest_benchmark", "lots": [{
        "lot": "L1", "benchmark": money(benchmark),
        "scores": [{"bid": f"L1/{c}", "price": money(prices[c]), "score": money(scores[c])} for c in valid]}]}
    return price, rows


def _flags(members: list[dict[str, Any]], valid: list[str], crits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    last, second = members[-1], members[min(1, len(members) - 1)]
    return [{"id": "f1", "member_id": last["member_id"], "name": last["name"], "bid": f"L1/{valid[0]}",
             "criterion": None, "kind": "deviation", "detail": "总分偏离其他专家平均分达 -35.20%（阈值 ±30%）",
             "status": "explained", "explanation": LONG_TEXT, "corrections": [],
             "confirmed_by": "m1", "confirmed_at": f"{iso(0)}T02:30:00Z"},
            {"id": "f2", "member_id": second["member_id"], "name": second["name"], "bid": f"L1/{valid[-1]}",
             "criterion": crits[-1]["code"], "kind": "objective_mismatch", "detail": "客观分与其他专家不一致",
             "status": "corrected", "explanation": None,
             "corrections": [{"criterion": crits[-1]["code"], "old": "0.00", "new": "1.00", "reason": "核对证书后更正",
                              "at": f"{iso(0)}T02:25:00Z"}],
             "confirmed_by": "m1", "confirmed_at": f"{iso(0)}T02:31:00Z"}]


# --- the tests --------------------------------------------------------------------------------------------------


def test_sample_embeds_every_font_and_a_cid_font(sample_pdf: Path) -> None:
    fonts = font_rows(sample_pdf)
    assert fonts, "the report uses no font at all"
    assert [f["name"] for f in fonts if f["emb"] != "yes"] == []
    assert any(f["type"].startswith("CID") for f in fonts), fonts


def test_first_page_shows_the_title_in_chinese_glyphs(sample: dict[str, Any], sample_pdf: Path, tmp_path: Path,
                                                      caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="fpdf"):
        render_report_pdf(sample)
    # fpdf2 logs every character the font has no glyph for: those would print as empty boxes ("tofu").
    assert not [r for r in caplog.records if "missing" in r.getMessage()], caplog.text
    text = flat(page_text(sample_pdf, 1))
    assert "评标报告" in text and sample["project"]["name"] in text and "张伟" in text

    poppler("pdftoppm", "-r", "50", "-gray", "-f", "1", "-l", "1", "-singlefile", sample_pdf, tmp_path / "page")
    width, height, pixels = read_pgm(tmp_path / "page.pgm")
    dots = 50 / 25.4
    top, bottom, left, right = (int(mm * dots) for mm in (20, 37, 70, 140))  # the 24 pt title, centred
    ink = sum(1 for y in range(top, bottom) for x in range(left, right) if pixels[y * width + x] < 128)
    # 468 dark pixels when measured; a font that is not embedded draws nothing here on a machine without one.
    assert ink > 200, ink
    assert (width, height) == (414, 585)  # A4 at 50 dpi


def test_same_report_gives_the_same_bytes_in_this_and_another_process(sample: dict[str, Any]) -> None:
    first = render_report_pdf(sample)
    assert render_report_pdf(copy.deepcopy(sample)) == first
    script = ("import json, pathlib, sys; from evalroom.report_pdf import render_report_pdf; "
              "sys.stdout.buffer.write(render_report_pdf(json.loads(pathlib.Path(sys.argv[1]).read_text('utf-8'))))")
    env = {**os.environ, "PYTHONHASHSEED": "4242"}
    other = subprocess.run([sys.executable, "-c", script, str(SAMPLE)], check=True, capture_output=True, env=env)
    assert other.stdout == first


def test_pdf_shows_the_numbers_and_words_of_its_json_twin(sample: dict[str, Any], sample_pdf: Path) -> None:
    text = flat(page_text(sample_pdf))
    result = sample["results"][0]
    price = sample["price"]["lots"][0]
    expected = [sample["project"]["code"], sample["session"]["code"], price["benchmark"]]
    for row in result["rows"]:
        expected += [row["final"], row["technical"], row["commercial"], row["price_score"], row["price"]]
        expected += [f"{v}(去)" if m in row["dropped"] else v for m, v in row["totals"].items()]
    expected += [c["final"] for c in result["candidates"]]
    expected += [s["score"] for s in price["scores"]]
    expected += [v for bid in sample["sheets"][0]["bids"] for v in (*bid["items"].values(), bid["subtotal"])]
    expected += [d["text"] for d in sample["dissent"]]
    expected += [f["explanation"] for f in sample["flags"] if f["explanation"]]
    expected += [s["name"] for s in sample["signatories"]]
    expected += ["山东甲建设有限公司", "3.00→5.00", "偏离均值", "客观分不一致", "已说明", "已更正"]
    expected += ["综合评分法", "去掉一个最高分和一个最低分", "保留两位小数，四舍五入", "签字页"]
    assert [e for e in expected if flat(e) not in text] == []
    candidates = text.split("七、推荐中标候选人")[1].split("八、保留意见")[0]
    assert candidates.index("山东甲建设有限公司") < candidates.index("乙路桥集团有限公司")
    pages = page_count(sample_pdf)
    assert f"第1页共{pages}页" in text and f"第{pages}页共{pages}页" in text


def test_signature_page_stands_alone_with_one_row_per_signatory(sample: dict[str, Any], sample_pdf: Path) -> None:
    last = flat(page_text(sample_pdf, page_count(sample_pdf)))
    assert last.startswith(f"评标报告会话{sample['session']['code']}") and "签字页" in last
    assert "九、报告后更正" not in last, "the signature page shares its page with the last section"
    assert all(flat(s["name"]) in last for s in sample["signatories"])


def test_lowest_price_method_labels_evaluated_prices(tmp_path: Path) -> None:
    report = build_report(5, 4, 3, method="lowest_price")
    text = flat(page_text(write(tmp_path, "lowest.pdf", render_report_pdf(report))))
    assert "经评审的最低投标价法" in text and "评审价格（元）" in text and "各评委评审价格（元）" in text
    assert "最终得分" not in text and "不计价格分" in text
    winner = report["results"][0]["candidates"][0]
    assert f"第1名{winner['bid']}" in text and winner["final"] in text


def test_missing_sections_and_unknown_keys_are_no_trouble(sample: dict[str, Any], tmp_path: Path) -> None:
    report = {**copy.deepcopy(sample), "price": None, "flags": [], "dissent": [], "sheets": [], "results": [],
              "future_section": {"x": 1}}
    report["project"] = {**report["project"], "price_rule": {"kind": "average_benchmark", "points": "30.00",
                                                             "coefficient": "0.95", "deduct_above": "1.00",
                                                             "deduct_below": "0.50", "not_yet_known": True}}
    del report["review"]
    text = flat(page_text(write(tmp_path, "sparse.pdf", render_report_pdf(report))))
    empty = (("二、资格/符合性审查", "三、"), ("三、评委评分表", "四、"), ("五、价格分", "六、"), ("六、汇总与排名", "七、"),
             ("七、推荐中标候选人", "八、"), ("八、保留意见", "九、"))
    for section, following in empty:
        assert text.split(section)[1].startswith("无" + following)
    assert "算术平均值×0.95" in text and "每高于评标基准价1%扣1.00分" in text


def test_plain_mean_and_post_report_corrections_in_words(sample: dict[str, Any], tmp_path: Path) -> None:
    report = copy.deepcopy(sample)
    report["aggregation"] = "mean"
    report["corrections"] = [{"member_id": "m2", "name": "李娜", "bid": "L1/B1", "criterion": "T2", "old": "8.50",
                              "new": "9.00", "cause": "abnormal_score", "reason": "经评标委员会认定", "at": None}]
    text = flat(page_text(write(tmp_path, "mean.pdf", render_report_pdf(report))))
    price = text.split("五、价格分")[1].split("六、")[0]
    assert "第一标段（L1）评标基准价：9650000.00元" in price and "29.54" in price
    assert "取全体评委的算术平均" in text and "评分畸高、畸低" in text and "T2质量管理体系与措施" in text


def test_generated_at_is_required(sample: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="generated_at"):
        render_report_pdf({**sample, "generated_at": None})


def test_another_font_file_can_be_given(sample: dict[str, Any], tmp_path: Path) -> None:
    # SimHei ships beside Noto in mplfonts: a TrueType-outline font, embedded as a CID TrueType subset instead.
    pdf = write(tmp_path, "simhei.pdf", render_report_pdf(sample, font_path=default_font_path().with_name("SimHei.ttf")))
    fonts = font_rows(pdf)
    assert [f["type"] for f in fonts] == ["CID TrueType"] and fonts[0]["emb"] == "yes"
    with pytest.raises(FileNotFoundError):
        render_report_pdf(sample, font_path=tmp_path / "no-such-font.otf")


def test_a_table_longer_than_a_page_repeats_its_heading_on_every_page(tmp_path: Path) -> None:
    pdf = write(tmp_path, "long.pdf", render_report_pdf(build_report(1, 3, 150)))
    texts = [page_text(pdf, p) for p in range(1, page_count(pdf) + 1)]
    # Pages with many criterion codes hold the score sheet (flags and corrections name one or two).
    sheet_pages = [text for text in texts if len(re.findall(r"\b[TC]\d{3}\b", text)) > 5]
    assert len(sheet_pages) >= 3, len(sheet_pages)
    assert all({"评分项", "满分", "L1/B1", "L1/B2"} <= set(text.split()) for text in sheet_pages)


def test_nine_experts_twenty_bidders_forty_criteria(tmp_path: Path) -> None:
    report = build_report(9, 20, 40)
    assert len(report["sheets"]) == 9 and len(report["sheets"][0]["bids"]) == 19
    pdf = write(tmp_path, "big.pdf", render_report_pdf(report))
    fonts = font_rows(pdf)
    assert fonts and all(f["emb"] == "yes" for f in fonts)
    # 9 sheets of 19 bids in 3 column groups of 42 rows: at least a page each, and nowhere near two each.
    assert 27 <= page_count(pdf) <= 60, page_count(pdf)
    text = flat(page_text(pdf))
    assert all(flat(m["name"]) in text for m in report["signatories"])
    assert all(row["final"] in text for row in report["results"][0]["rows"])


def test_a_settled_tie_is_said_under_the_ranking(sample: dict[str, Any], tmp_path: Path) -> None:
    report = copy.deepcopy(sample)
    lot = report["results"][0]
    for row in lot["rows"]:
        row.update(tie=True, settled=True)
    lot["ties"] = [{"order": ["L1/B1", "L1/B2"], "reason": "经评标委员会抽签决定", "settled_by": "张伟",
                    "at": f"{iso(0)}T03:10:00Z"}]
    text = flat(page_text(write(tmp_path, "tie.pdf", render_report_pdf(report))))
    ranking = text.split("六、汇总与排名")[1].split("七、")[0]
    # 03:10 UTC is 11:10 in Beijing on the same day (flat() drops the space between date and time)
    assert f"并列处理：L1/B1、L1/B2按此顺序排名（经评标委员会抽签决定；组长张伟，{iso(0)}11:10）" in ranking
    assert "已处理" in ranking
