"""The evaluation report (评标报告) as a PDF in Chinese, laid out from its JSON twin.

The JSON twin (format ``evalroom-report-v1``, docs/formats.md) is the record; this module only lays it out for
people to read, print and sign. It must never compute, round or re-rank anything: every number in the PDF
is a string copied from the JSON, so the two cannot disagree.

Why fpdf2: it embeds OpenType fonts with CFF outlines (such as Noto Sans CJK) as CID-keyed Type 0C *subsets*,
only the glyphs used, so the report renders on a machine without any Chinese font and stays small, not the 16 MB
of the font. ReportLab was the alternative and does not do this: its built-in CID fonts (STSong-Light) are never
embedded and show as empty boxes where no Chinese font is installed, and it cannot embed CFF-outline OpenType.

The font is Noto Sans CJK SC Regular (SIL OFL 1.1), which the ``mplfonts`` package ships; a deployment may pass
another file. There is one weight, so headings stand out by size and a stroked outline instead of a bold face.

Deterministic: the same report gives the same bytes, so the PDF can be hashed, signed and reproduced later. The
creation date is the report's ``generated_at``; the file identifier is fpdf2's hash of the content; nothing reads
the clock or depends on the process (hash seeds, object ids).

Times in the JSON are UTC; the PDF shows them in Beijing time (UTC+8) and says so on its first page.
"""

from __future__ import annotations

import importlib.util
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any

from fpdf import FPDF, FontFace
from fpdf.enums import TableBordersLayout, WrapMode, XPos, YPos

from signing.pades import SignatureBox, add_signature_fields

# fontTools logs every subsetting step at INFO; a report is not the place to hear about them.
logging.getLogger("fontTools").setLevel(logging.WARNING)

__all__ = ["SEAL_FIELD", "default_font_path", "member_field", "render_report_pdf"]

_FAMILY = "NotoSansCJKsc"
_BEIJING = timezone(timedelta(hours=8))
_MARGIN = 15.0
_WIDTH = 210.0 - 2 * _MARGIN
"""Usable width of an A4 page, in mm."""
_TABLE_PT = 8.0
_LINE_MM = 4.2
"""Line height in table cells: 1.5 × the 8 pt text, as the CJK font's ascent and descent need."""
_HEAD = FontFace(fill_color=(232, 232, 232))
_NONE = "无"
_DASH = "—"

_METHODS = {"comprehensive": "综合评分法", "lowest_price": "经评审的最低投标价法"}
_PARTS = {"technical": "技术", "commercial": "商务", "adjustment": "评审调整"}
_VENUE_ROLES = {"host": "主场", "guest": "副场"}
_MEMBER_KINDS = {"expert": "评标专家", "representative": "招标人代表"}
_FLAG_KINDS = {"out_of_range": "超出分值范围", "arithmetic": "计算错误", "objective_mismatch": "客观分不一致",
               "deviation": "偏离均值"}
_CAUSES = {"sum_error": "分值汇总计算错误", "out_of_range": "分项评分超出分值范围",
           "objective_inconsistent": "客观评审因素评分不一致", "abnormal_score": "评分畸高、畸低"}
"""Why a score may change after the report: the four cases of 87号令 Art. 64, in its words."""
_FLAG_STATUS = {"open": "待处理", "corrected": "已更正", "explained": "已说明", "cleared": "已解除"}
_TIE_BREAKS = {"lower_price": "投标报价低者优先", "higher_technical": "技术得分高者优先",
               "higher_commercial": "商务得分高者优先"}
_ROUNDING = {"ROUND_HALF_UP": "四舍五入", "ROUND_HALF_EVEN": "四舍六入五成双", "ROUND_DOWN": "舍去尾数"}
_CN_DIGITS = "零一两三四五六七八九"
SEAL_FIELD = "coordinator-seal"
"""The signature field of the coordinator's seal."""
_SIGN_ROW_MM = 24.0
"""A signatory's row on the signature page: room for five lines of the 7 pt appearance."""
_SEAL_MM = (82.0, 30.0)
_BID_COLUMNS = {"comprehensive": 8, "lowest_price": 6}
"""Bid columns in one score-sheet table, beside the criterion: eight scores fit across the page, six amounts."""
_MEMBER_COLUMNS = {"comprehensive": 10, "lowest_price": 6}
"""Member columns in one table of totals: ten scores such as "153.85(去)" fit, six amounts in yuan."""


@lru_cache(maxsize=1)
def default_font_path() -> Path:
    """Noto Sans CJK SC Regular from the ``mplfonts`` package, found without importing it (that loads matplotlib)."""
    spec = importlib.util.find_spec("mplfonts")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("the mplfonts package (Noto Sans CJK SC) is not installed: pass font_path")
    return Path(spec.submodule_search_locations[0]) / "fonts" / "NotoSansCJKsc-Regular.otf"


def member_field(member_id: str) -> str:
    """The signature field of a committee member: the name every signer (the seat signer, the signing client)
    fills, so each signature lands in its signatory's box. Only letters, digits and hyphens: a dot would make a
    hierarchical field name."""
    return "member-" + re.sub(r"[^A-Za-z0-9-]", "-", member_id[:8])


def render_report_pdf(report: Mapping[str, Any], *, font_path: Path | None = None) -> bytes:
    """Lay out a report JSON twin (``evalroom-report-v1``) as an A4 PDF with the font embedded.

    Unknown keys are ignored; missing optional sections print as 无. Raises ``ValueError`` when
    ``generated_at`` is missing, since the PDF's dates are taken from it, and ``FileNotFoundError`` when there
    is no font file (``font_path``, or else Noto Sans CJK SC from ``mplfonts``).
    """
    doc = _Report.of(report)
    pdf = _ReportPdf(doc, font_path or default_font_path())
    pdf.add_page()
    for section in _SECTIONS:
        section(pdf, doc)
    return add_signature_fields(bytes(pdf.output()), pdf.signature_boxes, doc.created)


# --- reading the JSON twin ------------------------------------------------------------------------------------


def _map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _maps(value: Any) -> list[Mapping[str, Any]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def _text(value: Any, empty: str = _DASH) -> str:
    return empty if value is None or value == "" else str(value)


def _utc(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _when(value: Any) -> str:
    """A UTC ISO time from the JSON as Beijing time; anything unreadable is shown as given."""
    moment = _utc(value)
    if moment is None:
        return _text(value)
    return moment.astimezone(_BEIJING).strftime("%Y-%m-%d %H:%M")


def _groups(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    """The fewest groups of at most ``size`` items, as even as they come: 9 by 8 gives 5 + 4, not 8 + 1."""
    if not items:
        return
    count = -(-len(items) // size)
    step = -(-len(items) // count)
    for start in range(0, len(items), step):
        yield items[start:start + step]


@dataclass(frozen=True)
class _Report:
    """The report with the look-ups every section needs: names by id and code, in the JSON's order."""

    raw: Mapping[str, Any]
    project: Mapping[str, Any]
    session: Mapping[str, Any]
    members: Mapping[str, str]
    bidders: Mapping[str, str]
    criteria: Sequence[Mapping[str, Any]]
    criterion_names: Mapping[str, str]
    created: datetime

    @classmethod
    def of(cls, raw: Mapping[str, Any]) -> _Report:
        created = _utc(raw.get("generated_at"))
        if created is None:
            raise ValueError("the report has no readable generated_at: the PDF's dates are taken from it")
        project = _map(raw.get("project"))
        members: dict[str, str] = {}
        for venue in _maps(_map(raw.get("committee")).get("venues")):
            members.update({str(m.get("member_id")): _text(m.get("name")) for m in _maps(venue.get("members"))})
        for person in _maps(raw.get("signatories")) + _maps(raw.get("sheets")):
            members.setdefault(str(person.get("member_id")), _text(person.get("name")))
        bidders = {str(b.get("code")): _text(b.get("name")) for b in _maps(project.get("bidders"))}
        criteria = _maps(project.get("criteria"))
        names = {str(c.get("code")): str(c["name"]) for c in criteria if c.get("name")}
        return cls(raw, project, _map(raw.get("session")), members, bidders, criteria, names, created)

    @property
    def lowest_price(self) -> bool:
        return self.project.get("method") == "lowest_price"

    @property
    def bid_columns(self) -> int:
        return _BID_COLUMNS["lowest_price" if self.lowest_price else "comprehensive"]

    @property
    def member_columns(self) -> int:
        return _MEMBER_COLUMNS["lowest_price" if self.lowest_price else "comprehensive"]

    @property
    def score_label(self) -> str:
        return "评审价格（元）" if self.lowest_price else "最终得分"

    def member(self, member_id: Any) -> str:
        return self.members.get(str(member_id), _text(member_id))

    def bidder(self, row: Mapping[str, Any]) -> str:
        """The bidder's name for a row that has a ``bidder`` code or at least a ``bid`` key (``LOT/BIDDER``)."""
        code = str(row.get("bidder") or str(row.get("bid", "")).rpartition("/")[2])
        return self.bidders.get(code, _text(code))

    def criterion(self, code: Any) -> str:
        if not code:
            return ""
        name = self.criterion_names.get(str(code))
        return f"{code} {name}" if name else str(code)

    def lot(self, code: Any) -> str:
        name = next((lot.get("name") for lot in _maps(self.project.get("lots")) if lot.get("code") == code), None)
        return f"{name}（{code}）" if name else f"标段 {_text(code)}"


# --- the document and its building blocks --------------------------------------------------------------------


class _ReportPdf(FPDF):
    """A4 pages with the session code in the header and "第 N 页 共 M 页" in the footer."""

    def __init__(self, doc: _Report, font_path: Path) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self._header_left = f"评标报告　会话 {_text(doc.session.get('code'))}"
        self._header_right = f"项目 {_text(doc.project.get('code'))}"
        # Parsed per document: fpdf2 subsets the parsed font in place while writing the file, so one parse
        # cannot serve two documents (a shared template measured under 10 % faster, not worth private API).
        self.add_font(_FAMILY, fname=font_path)
        self.set_font(_FAMILY, size=10)
        self.set_margins(_MARGIN, 20, _MARGIN)
        self.set_auto_page_break(auto=True, margin=18)
        self.alias_nb_pages()
        self.set_creation_date(doc.created)
        self.set_lang("zh-CN")
        self.set_creator("evalroom")
        self.set_title(f"评标报告 {_text(doc.project.get('code'), '')} {_text(doc.project.get('name'), '')}".strip())
        self.set_subject(f"评标会话 {_text(doc.session.get('code'), '')}".strip())
        self.signature_boxes: list[SignatureBox] = []

    def place_signature(self, field: str, x: float, y: float, w: float, h: float, label: str) -> None:
        """Keep a signature field's place (mm from the top left, here) as the PDF's points from the lower
        left, 1 mm inside the drawn box. A name already placed (a repeated member id) gets no second field."""
        if any(b.field == field for b in self.signature_boxes):
            return
        k, top = self.k, self.h
        box = (round((x + 1) * k), round((top - y - h + 1) * k), round((x + w - 1) * k), round((top - y - 1) * k))
        self.signature_boxes.append(SignatureBox(field, self.page - 1, box, label))

    def header(self) -> None:
        with self.local_context(font_size_pt=8, text_color=(90, 90, 90), draw_color=(150, 150, 150)):
            self.set_xy(_MARGIN, 10)
            self.cell(_WIDTH / 2, 5, self._header_left)
            self.cell(_WIDTH / 2, 5, self._header_right, align="R")
            self.line(_MARGIN, 15.5, _MARGIN + _WIDTH, 15.5)
        self.set_xy(_MARGIN, 20)

    def footer(self) -> None:
        with self.local_context(font_size_pt=8, text_color=(90, 90, 90)):
            self.set_xy(_MARGIN, -13)
            self.cell(_WIDTH, 5, f"第 {self.page_no()} 页 共 {{nb}} 页", align="C")


def _heading(pdf: FPDF, text: str, size: float = 13, keep: float = 50) -> None:
    """A heading in a stroked outline (the font has no bold), kept on the page of the content under it: ``keep``
    is room for the heading and more than :func:`_table` wants for its first rows, so neither is left alone."""
    if pdf.will_page_break(keep):
        pdf.add_page()
    pdf.ln(size * 0.25)
    with pdf.local_context(font_size_pt=size, text_mode="FILL_STROKE", line_width=size * 0.012):
        pdf.multi_cell(0, size * 0.55, text, wrapmode=WrapMode.CHAR, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1)


def _subheading(pdf: FPDF, text: str) -> None:
    _heading(pdf, text, size=10.5, keep=36)


def _para(pdf: FPDF, text: str, size: float = 10) -> None:
    with pdf.local_context(font_size_pt=size):
        pdf.multi_cell(0, size * 0.55, text, wrapmode=WrapMode.CHAR, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(1.5)


def _table(pdf: FPDF, heads: Sequence[str], rows: Sequence[Sequence[str]], widths: Sequence[float],
           align: str, *, min_height: float | None = None) -> None:
    """A bordered table whose cells wrap character by character (Chinese has no spaces to break at) and whose
    heading row repeats on every page it runs onto. ``align`` has one letter (L, C or R) per column."""
    if pdf.will_page_break(_LINE_MM * 6):  # no heading row alone with a row or two at the foot of a page
        pdf.add_page()
    with pdf.local_context(font_size_pt=_TABLE_PT), pdf.table(
            width=sum(widths), col_widths=tuple(widths), align="LEFT", text_align=tuple(align),
            headings_style=_HEAD, line_height=_LINE_MM, wrapmode=WrapMode.CHAR, padding=(0.8, 1.0),
            v_align="MIDDLE", repeat_headings=1) as table:
        heading = table.row()
        for head in heads:
            heading.cell(head, align="C")
        for row in rows:
            table.row(row, min_height=min_height)
    pdf.ln(3)


def _key_values(pdf: FPDF, pairs: Sequence[tuple[str, str]]) -> None:
    with pdf.local_context(font_size_pt=9), pdf.table(
            width=_WIDTH, col_widths=(30, _WIDTH - 30), align="LEFT", first_row_as_headings=False,
            line_height=4.8, wrapmode=WrapMode.CHAR, padding=(1.0, 1.5), v_align="MIDDLE",
            borders_layout=TableBordersLayout.ALL) as table:
        for label, value in pairs:
            row = table.row()
            row.cell(label, style=_HEAD)
            row.cell(value)
    pdf.ln(3)


# --- the sections, in the order of the report ----------------------------------------------------------------


def _price_rule(doc: _Report) -> str:
    rule = _map(doc.project.get("price_rule"))
    kind, points = rule.get("kind"), _text(rule.get("points"))
    if kind == "lowest_benchmark":
        return f"低价基准法：以有效投标报价中的最低价为评标基准价，价格分 = 评标基准价 ÷ 投标报价 × {points}"
    if kind == "average_benchmark":
        drop = rule.get("drop_extremes_from")
        dropping = f"（有效报价不少于 {drop} 家时先去掉一个最高价和一个最低价）" if drop else ""
        return (f"平均值基准法：评标基准价 = 有效投标报价的算术平均值{dropping} × {_text(rule.get('coefficient'), '1')}；"
                f"投标报价每高于评标基准价 1% 扣 {_text(rule.get('deduct_above'), '0')} 分，"
                f"每低于 1% 扣 {_text(rule.get('deduct_below'), '0')} 分；价格分满分 {points} 分，最低 0 分")
    if doc.lowest_price:
        return "不计价格分：评审价格 = 投标报价 + 评审调整金额，评审价格最低者排名第一"
    return _text(kind)


def _aggregation(doc: _Report) -> str:
    kind = doc.raw.get("aggregation")
    if kind == "trimmed_mean":
        rule = "5名及以上评委时去掉一个最高分和一个最低分后取算术平均，不足5名时取算术平均"
    elif kind == "mean":
        rule = "取全体评委的算术平均"
    else:
        rule = _text(kind)
    return f"{rule}；{_rounding(doc.raw.get('rounding'))}"


def _rounding(value: Any) -> str:
    """``"ROUND_HALF_UP, 2 places"`` → 计算采用十进制精确运算，保留两位小数，四舍五入."""
    text = str(value or "")
    mode = next((words for key, words in _ROUNDING.items() if text.startswith(key)), None)
    places = re.search(r"(\d+)\s*place", text)
    if mode is None or places is None:
        return f"计算采用十进制精确运算，舍入规则：{_text(value)}"
    count = int(places.group(1))
    digits = _CN_DIGITS[count] if count < len(_CN_DIGITS) else str(count)
    return f"计算采用十进制精确运算，保留{digits}位小数，{mode}"


def _ranking(doc: _Report) -> str:
    first = "按评审价格由低到高排名" if doc.lowest_price else "按最终得分由高到低排名"
    ties = [_TIE_BREAKS.get(str(key), str(key)) for key in doc.project.get("tie_break") or []]
    return f"{first}；相同时依次{'、'.join(ties)}" if ties else first


def _cover(pdf: FPDF, doc: _Report) -> None:
    with pdf.local_context(font_size_pt=24, text_mode="FILL_STROKE", line_width=0.3):
        pdf.cell(0, 16, "评标报告", align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    with pdf.local_context(font_size_pt=13):
        pdf.multi_cell(0, 8, _text(doc.project.get("name"), ""), align="C", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    host = _map(doc.session.get("host_venue"))
    guests = [_text(v.get("name")) for v in _maps(_map(doc.raw.get("committee")).get("venues"))
              if v.get("role") == "guest"]
    lots = [f"{_text(lot.get('code'))} {_text(lot.get('name'), '')}" for lot in _maps(doc.project.get("lots"))]
    _key_values(pdf, [
        ("项目编号", _text(doc.project.get("code"))),
        ("项目名称", _text(doc.project.get("name"))),
        ("招标人", _text(doc.project.get("tenderer"))),
        ("评标会话", f"{_text(doc.session.get('code'))}　{_text(doc.session.get('title'), '')}"),
        ("主场", _text(host.get("name"))),
        ("副场", "、".join(guests) or _NONE),
        ("标段", "；".join(lots) or _DASH),
        ("评标办法", _METHODS.get(str(doc.project.get("method")), _text(doc.project.get("method")))),
        ("价格分规则", _price_rule(doc)),
        ("汇总规则", _aggregation(doc)),
        ("排名规则", _ranking(doc)),
        ("推荐候选人数", _text(doc.project.get("candidates"))),
        ("评标开始时间", _when(doc.session.get("started_at"))),
        ("报告版本", f"第 {_text(doc.raw.get('version'))} 版"),
        ("生成时间", _when(doc.raw.get("generated_at"))),
    ])
    _para(pdf, "说明：本报告所列时间均为北京时间（UTC+8）；金额单位为元；分数与金额均照录评标系统的计算结果。", size=9)
    if doc.bidders:
        _subheading(pdf, "投标人")
        _table(pdf, ["编号", "投标人名称"], [[code, name] for code, name in doc.bidders.items()], (24, _WIDTH - 24),
               "CL")


def _committee(pdf: FPDF, doc: _Report) -> None:
    _heading(pdf, "一、评标委员会")
    committee = _map(doc.raw.get("committee"))
    chair = str(_map(committee.get("chair")).get("member_id"))
    venues = sorted(_maps(committee.get("venues")), key=lambda venue: venue.get("role") != "host")
    if not venues:
        _para(pdf, _NONE)
    for venue in venues:
        role = _VENUE_ROLES.get(str(venue.get("role")), _text(venue.get("role")))
        _subheading(pdf, f"{_text(venue.get('name'))}（{role}）")
        rows = [[str(i), _text(m.get("name")), _MEMBER_KINDS.get(str(m.get("kind")), _text(m.get("kind"))),
                 _text(m.get("specialty")), "组长" if str(m.get("member_id")) == chair else "成员"]
                for i, m in enumerate(_maps(venue.get("members")), 1)]
        _table(pdf, ["序号", "姓名", "类别", "专业", "职务"], rows, (14, 62, 36, 38, 30), "CLCCC")


def _reason(doc: _Report, reason: Any) -> str:
    """``"m4: 投标保证金金额不足"`` → ``"赵敏：投标保证金金额不足"`` when m4 is a member; otherwise as given."""
    member, colon, text = str(reason).partition(":")
    return f"{doc.members[member.strip()]}：{text.strip()}" if colon and member.strip() in doc.members else str(reason)


def _review(pdf: FPDF, doc: _Report) -> None:
    _heading(pdf, "二、资格/符合性审查")
    bids = _maps(_map(doc.raw.get("review")).get("bids"))
    if not bids:
        _para(pdf, _NONE)
        return
    rows = [[_text(b.get("bid")), doc.bidder(b), "通过" if b.get("passed") else "否决", _text(b.get("fail_votes")),
             "\n".join(_reason(doc, r) for r in b.get("reasons") or []) or _NONE] for b in bids]
    _table(pdf, ["投标", "投标人", "结论", "否决票", "否决理由"], rows, (18, 50, 16, 16, 80), "CLCCL")


def _sheets(pdf: FPDF, doc: _Report) -> None:
    _heading(pdf, "三、评委评分表")
    sheets = _maps(doc.raw.get("sheets"))
    if not sheets:
        _para(pdf, _NONE)
    for number, sheet in enumerate(sheets, 1):
        _sheet(pdf, doc, number, sheet)


def _sheet(pdf: FPDF, doc: _Report, number: int, sheet: Mapping[str, Any]) -> None:
    version = _text(sheet.get("version"))
    corrected = "（已更正）" if isinstance(sheet.get("version"), int) and sheet["version"] > 1 else ""
    _subheading(pdf, f"3.{number}　{_text(sheet.get('name'))}（{_text(sheet.get('venue'))}）")
    _para(pdf, f"版本：第 {version} 版{corrected}　提交时间：{_when(sheet.get('submitted_at'))}\n"
               f"评分表 SHA-256：{_text(sheet.get('sha256'))}", size=8.5)
    bids = _maps(sheet.get("bids"))
    if not bids:
        _para(pdf, _NONE)
        return
    lead = (44.0, 18.0, 14.0)
    width = (_WIDTH - sum(lead)) / doc.bid_columns
    for group in _groups(bids, doc.bid_columns):
        rows = [[doc.criterion(c.get("code")), _part(c), _text(c.get("max")),
                 *(_text(_map(bid.get("items")).get(c.get("code"))) for bid in group)] for c in doc.criteria]
        rows.append(["小计", "", "", *(_text(bid.get("subtotal")) for bid in group)])
        _table(pdf, ["评分项", "类别", "满分", *(_text(bid.get("bid")) for bid in group)], rows,
               (*lead, *([width] * len(group))), "LCR" + "R" * len(group))


def _part(criterion: Mapping[str, Any]) -> str:
    part = _PARTS.get(str(criterion.get("part")), _text(criterion.get("part")))
    return f"{part}·客观" if criterion.get("objective") else part


def _flags(pdf: FPDF, doc: _Report) -> None:
    _heading(pdf, "四、自动校验与处理")
    flags = _maps(doc.raw.get("flags"))
    if not flags:
        _para(pdf, _NONE)
        return
    rows = [[str(i), "\n".join(filter(None, (doc.member(f.get("member_id")), _text(f.get("bid")),
                                             doc.criterion(f.get("criterion"))))),
             f"{_FLAG_KINDS.get(str(f.get('kind')), _text(f.get('kind')))}\n"
             f"{_FLAG_STATUS.get(str(f.get('status')), _text(f.get('status')))}",
             _flag_handling(doc, f)] for i, f in enumerate(flags, 1)]
    _table(pdf, ["序号", "评委 / 投标 / 评分项", "类型 / 状态", "情况与处理"], rows, (12, 40, 26, 102), "CLCL")


def _flag_handling(doc: _Report, flag: Mapping[str, Any]) -> str:
    lines = [f"情况：{_text(flag.get('detail'))}"]
    if flag.get("explanation"):
        lines.append(f"说明：{flag['explanation']}")
    lines += [f"更正：{doc.criterion(c.get('criterion'))} {_text(c.get('old'))} → {_text(c.get('new'))}"
              f"（{_text(c.get('reason'))}，{_when(c.get('at'))}）" for c in _maps(flag.get("corrections"))]
    if flag.get("confirmed_by"):
        lines.append(f"确认：{doc.member(flag['confirmed_by'])}，{_when(flag.get('confirmed_at'))}")
    return "\n".join(lines)


def _price(pdf: FPDF, doc: _Report) -> None:
    _heading(pdf, "五、价格分")
    price = _map(doc.raw.get("price"))
    if not price:
        _para(pdf, "本项目采用经评审的最低投标价法，不计价格分。" if doc.lowest_price else _NONE)
        return
    _para(pdf, f"计算规则：{_price_rule(doc)}")
    for lot in _maps(price.get("lots")):
        _subheading(pdf, doc.lot(lot["lot"]))
        _para(pdf, f"评标基准价：{_text(lot.get('benchmark'))} 元")
        rows = [[_text(s.get("bid")), doc.bidder(s), _text(s.get("price")), _text(s.get("score"))]
                for s in _maps(lot.get("scores"))]
        _table(pdf, ["投标", "投标人", "投标报价（元）", "价格分"], rows, (20, 84, 44, 32), "CLRR")


def _results(pdf: FPDF, doc: _Report) -> None:
    _heading(pdf, "六、汇总与排名")
    lots = _maps(doc.raw.get("results"))
    if not lots:
        _para(pdf, _NONE)
    for lot in lots:
        _subheading(pdf, doc.lot(lot.get("lot")))
        rows = _maps(lot.get("rows"))
        _member_totals(pdf, doc, rows)
        _lot_summary(pdf, doc, rows)
        for tie in _maps(lot.get("ties")):
            order = "、".join(_text(b) for b in tie.get("order") or [])
            _para(pdf, f"并列处理：{order} 按此顺序排名（{_text(tie.get('reason'))}；组长 "
                       f"{_text(tie.get('settled_by'))}，{_when(tie.get('at'))}）", size=9)
        rejected = [f"{_text(r.get('bid'))} {doc.bidder(r)}" for r in _maps(lot.get("rejected"))]
        _para(pdf, f"被否决的投标：{'；'.join(rejected) or _NONE}")


def _member_totals(pdf: FPDF, doc: _Report, rows: Sequence[Mapping[str, Any]]) -> None:
    """Bids × members' totals; the totals the trimmed mean dropped carry "(去)"."""
    members = list(dict.fromkeys(m for row in rows for m in _map(row.get("totals"))))
    if not members:
        return
    label = "各评委评审价格（元）" if doc.lowest_price else "各评委评分"
    _para(pdf, f"{label}（标“(去)”者为汇总时去掉的最高值、最低值）", size=9)
    width = (_WIDTH - 20) / doc.member_columns
    for group in _groups(members, doc.member_columns):
        table = [[_text(row.get("bid")), *(_total(row, m) for m in group)] for row in rows]
        _table(pdf, ["投标", *(doc.member(m) for m in group)], table, (20, *([width] * len(group))),
               "C" + "R" * len(group))


def _total(row: Mapping[str, Any], member: str) -> str:
    value = _text(_map(row.get("totals")).get(member))
    return f"{value}(去)" if member in (row.get("dropped") or []) else value


def _lot_summary(pdf: FPDF, doc: _Report, rows: Sequence[Mapping[str, Any]]) -> None:
    if not rows:
        return
    if doc.lowest_price:
        heads = ["投标", "投标人", "投标报价（元）", "评审价格（元）", "排名", "并列"]
        keys, widths = ("price", "final"), (16, 74, 30, 30, 15, 15)
    else:
        heads = ["投标", "投标人", "投标报价（元）", "技术分", "商务分", "价格分", "最终得分", "排名", "并列"]
        keys, widths = ("price", "technical", "commercial", "price_score", "final"), (14, 50, 26, 16, 16, 16, 18, 12, 12)
    table = [[_text(row.get("bid")), doc.bidder(row), *(_text(row.get(k)) for k in keys), _text(row.get("rank")),
              ("已处理" if row.get("settled") else "是") if row.get("tie") else ""] for row in rows]
    _table(pdf, heads, table, widths, "CL" + "R" * len(keys) + "CC")


def _candidates(pdf: FPDF, doc: _Report) -> None:
    _heading(pdf, "七、推荐中标候选人")
    lots = [lot for lot in _maps(doc.raw.get("results")) if _maps(lot.get("candidates"))]
    if not lots:
        _para(pdf, _NONE)
    for lot in lots:
        _subheading(pdf, doc.lot(lot.get("lot")))
        rows = [[f"第 {_text(c.get('rank'))} 名", _text(c.get("bid")), doc.bidder(c), _text(c.get("final"))]
                for c in _maps(lot.get("candidates"))]
        _table(pdf, ["排名", "投标", "投标人", doc.score_label], rows, (22, 22, 96, 40), "CCLR")


def _dissent(pdf: FPDF, doc: _Report) -> None:
    _heading(pdf, "八、保留意见")
    items = _maps(doc.raw.get("dissent"))
    if not items:
        _para(pdf, _NONE)
    for item in items:
        _para(pdf, f"{doc.member(item.get('member_id'))}（{_when(item.get('at'))}）：{_text(item.get('text'))}")


def _corrections(pdf: FPDF, doc: _Report) -> None:
    _heading(pdf, "九、报告后更正")
    items = _maps(doc.raw.get("corrections"))
    if not items:
        _para(pdf, _NONE)
        return
    rows = [[doc.member(c.get("member_id")), _text(c.get("bid")), doc.criterion(c.get("criterion")),
             _text(c.get("old")), _text(c.get("new")), _CAUSES.get(str(c.get("cause")), _text(c.get("cause"))),
             _text(c.get("reason")), _when(c.get("at"))] for c in items]
    _table(pdf, ["评委", "投标", "评分项", "原值", "更正值", "原因", "说明", "时间"], rows,
           (18, 16, 28, 16, 16, 22, 38, 26), "LCLRRLLC")


def _signatures(pdf: _ReportPdf, doc: _Report) -> None:
    """The signature page: a row per signatory whose right-hand box is their signature field, then the seal's
    box. The boxes are laid out by hand (not as a table) because their places must be known to put the fields
    there; each row has a fixed height, room for the appearance's four or five lines."""
    pdf.add_page()
    _heading(pdf, "签字页")
    _para(pdf, "评标委员会成员对本报告签字确认。对评标结论持有异议的成员可以书面方式阐述其不同意见和理由"
               "（见“八、保留意见”）；拒绝签字且不陈述不同意见和理由的，视为同意评标结论。签字框中显示签字人、"
               "签字时间及其数字证书，由签字人的电子签名覆盖。")
    signatories = _maps(doc.raw.get("signatories"))
    if not signatories:
        _para(pdf, _NONE)
    heads, widths = ("序号", "姓名", "场地", "职务", "签字"), (10.0, 30.0, 44.0, 14.0, _WIDTH - 98.0)

    def heading() -> None:
        with pdf.local_context(font_size_pt=_TABLE_PT, fill_color=(232, 232, 232)):
            for head, width in zip(heads, widths, strict=True):
                pdf.cell(width, 7, head, border=1, align="C", fill=True)
            pdf.ln(7)

    if signatories:
        heading()
    for number, signatory in enumerate(signatories, 1):
        if pdf.will_page_break(_SIGN_ROW_MM):
            pdf.add_page()
            heading()
        x, y = pdf.l_margin, pdf.get_y()
        texts = (str(number), _text(signatory.get("name")), _text(signatory.get("venue")),
                 "组长" if signatory.get("role") == "chair" else "成员")
        with pdf.local_context(font_size_pt=_TABLE_PT):
            for text, width, align in zip(texts, widths, "CLLC", strict=False):
                pdf.rect(x, y, width, _SIGN_ROW_MM)
                pdf.set_xy(x + 1, y + 2)
                pdf.multi_cell(width - 2, _LINE_MM, text, align=align, wrapmode=WrapMode.CHAR)
                x += width
        pdf.rect(x, y, widths[-1], _SIGN_ROW_MM)
        pdf.place_signature(member_field(str(signatory.get("member_id", number))), x, y, widths[-1], _SIGN_ROW_MM,
                            f"签字：{_text(signatory.get('name'))}")
        pdf.set_xy(pdf.l_margin, y + _SIGN_ROW_MM)
    pdf.ln(6)
    if pdf.will_page_break(_SEAL_MM[1] + 8):
        pdf.add_page()
    _para(pdf, "交易平台电子签章（含可信时间戳）：", size=9)
    x, y = pdf.l_margin + _WIDTH - _SEAL_MM[0], pdf.get_y()
    with pdf.local_context(draw_color=(190, 190, 190)):
        pdf.rect(x, y, *_SEAL_MM)
    pdf.place_signature(SEAL_FIELD, x, y, *_SEAL_MM, "交易平台电子签章")


_SECTIONS = (_cover, _committee, _review, _sheets, _flags, _price, _results, _candidates, _dissent, _corrections,
             _signatures)
