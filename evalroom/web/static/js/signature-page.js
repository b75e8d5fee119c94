// The report's signature page (签字页) in the report preview, as the PDF shows it (docs/signing.md, "Signatures
// people can see"): a row per signatory whose box holds, once they have signed, their name and venue, the time,
// the certificate's issuer and serial, and 保留意见 for a dissenter; then the coordinator's seal with its
// time-stamp's time. Drawn from the signature records (GET /signatures, each with what its box shows), so it
// follows the signing live: the page reloads on every signing event.

import * as i18n from "./i18n.js";
import { el, when } from "./ui.js";

i18n.extend({
  zh: {
    "sp.title": "签字页",
    "sp.no": "序号",
    "sp.name": "姓名",
    "sp.venue": "场地",
    "sp.role": "职务",
    "sp.box": "签字",
    "sp.chair": "组长",
    "sp.member": "成员",
    "sp.signed_at": "签字时间 {at}",
    "sp.certificate": "证书 {issuer} · 序列号 {serial}",
    "sp.dissent": "保留意见（见报告“八、保留意见”）",
    "sp.waiting": "待签字",
    "sp.deemed": "未签字，视为同意评标结论",
    "sp.seal": "交易平台电子签章",
    "sp.sealed": "电子签章 · 时间戳 {at}",
    "sp.unsealed": "待签章",
  },
  en: {
    "sp.title": "Signature page",
    "sp.no": "No.",
    "sp.name": "Name",
    "sp.venue": "Venue",
    "sp.role": "Role",
    "sp.box": "Signature",
    "sp.chair": "Chair",
    "sp.member": "Member",
    "sp.signed_at": "Signed {at}",
    "sp.certificate": "Certificate {issuer} · serial {serial}",
    "sp.dissent": "With dissent (see part 8 of the report)",
    "sp.waiting": "Not signed yet",
    "sp.deemed": "Did not sign: deemed to agree",
    "sp.seal": "Coordinator's seal",
    "sp.sealed": "Sealed · time-stamp {at}",
    "sp.unsealed": "Not sealed yet",
  },
});

const t = i18n.t;
const SECONDS = { dateStyle: "short", timeStyle: "medium" };

function lines(...texts) {
  return texts.filter(Boolean).map((text) => el("span", { className: "line" }, text));
}

function box(signatory, record, unsigned) {
  if (record) {
    const v = record.verification || {};
    // The time the signer's software signed at, as the box in the PDF shows it (accepted a moment later).
    return lines(`${signatory.name}  ${signatory.venue}`,
                 t("sp.signed_at", { at: when(v.signed_at || record.created_at, SECONDS) }),
                 v.serial && t("sp.certificate", { issuer: v.issuer, serial: v.serial }),
                 record.dissent_sha256 && t("sp.dissent"));
  }
  return lines(t(unsigned ? "sp.waiting" : "sp.deemed"));
}

// `signatures`: GET /signatures; `missing`: the status's signing.missing (who has not signed what).
export function renderSignaturePage(container, report, signatures, missing) {
  const mine = signatures.filter((s) => s.report_version === report.version);
  const unsigned = new Set((missing || []).filter((m) => m.unsigned.some((u) => u.startsWith("report")))
    .map((m) => m.member_id));
  const head = el("tr", {}, ...["no", "name", "venue", "role", "box"].map((k) => el("th", { scope: "col" }, t(`sp.${k}`))));
  const body = (report.signatories || []).map((s, i) => {
    const record = mine.find((r) => r.document === "report" && r.member_id === s.member_id);
    return el("tr", { dataset: { member: s.member_id, signed: String(Boolean(record)) } },
              el("td", {}, String(i + 1)), el("td", {}, s.name), el("td", {}, s.venue),
              el("td", {}, t(s.role === "chair" ? "sp.chair" : "sp.member")),
              el("td", { className: "signature-box" }, ...box(s, record, unsigned.has(s.member_id))));
  });
  const seal = mine.find((r) => r.document === "seal");
  const stamp = seal && (seal.verification || {}).timestamp;
  container.replaceChildren(
    el("h3", { id: "signature-page-h" }, t("sp.title")),
    el("table", { className: "signature-page", "aria-labelledby": "signature-page-h" }, head, ...body),
    el("p", { className: seal ? "seal-box sealed" : "seal-box", dataset: { sealed: String(Boolean(seal)) } },
       `${t("sp.seal")}：`, ...(seal ? lines(t("sp.sealed", { at: when(stamp || seal.created_at, SECONDS) }),
                                              seal.verification.serial && t("sp.certificate", {
                                                issuer: seal.verification.issuer, serial: seal.verification.serial }))
                                     : lines(t("sp.unsealed")))));
}
