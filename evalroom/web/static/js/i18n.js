// Interface text in Chinese (the default) and English. Elements carry data-i18n="key" (their text) or
// data-i18n-attr="attribute:key" (an attribute); t(key, values) fills {name} placeholders.

const TEXT = {
  zh: {
    "lang.switch": "English",
    "skip": "跳到主要内容",
    "conn.connecting": "正在连接…",
    "conn.live": "实时连接正常",
    "conn.reconnecting": "连接中断，正在重新连接…",
    "conn.refused": "连接被拒绝：{message}",
    "conn.closed": "连接已关闭",
    "index.title": "远程异地评标系统",
    "index.expert": "评标专家：用签到时取得的一次性登录码登录",
    "index.staff": "工作人员与监督人员登录",
    "index.username": "用户名",
    "index.password": "密码",
    "index.login": "登录",
    "expert.title": "评标专家席位",
    "expert.login": "登录",
    "expert.code": "一次性登录码",
    "expert.login_button": "登录",
    "expert.session": "评标会议",
    "expert.state": "会议状态",
    "expert.phase": "当前环节",
    "expert.seat": "席位",
    "expert.declaration": "无利害关系承诺",
    "expert.declaration_confirm": "本人确认与本项目投标人无利害关系，承诺独立、客观、公正评审。",
    "expert.declaration_submit": "提交承诺",
    "expert.declared": "已提交承诺，已入席。",
    "expert.scoring": "详细评审打分",
    "expert.scoring_help": "每项分值须在括号内的范围内，最多两位小数。提交后不可修改，如需更正须经系统提示流程。",
    "expert.range": "（{min}–{max} 分）",
    "expert.total": "合计",
    "expert.submit_scores": "提交评分",
    "expert.error.number": "请输入数字，最多两位小数（如 17 或 17.5）",
    "expert.error.range": "超出范围：须在 {min} 至 {max} 之间",
    "expert.error.required": "请填写此项",
    "expert.invalid_summary": "有 {count} 项需要修改，请检查标红的分值。",
    "expert.submitted": "评分已提交（摘要 {sha}…）。",
    "expert.not_scoring": "当前环节不是详细评审，打分表尚未开放。",
    "state.waiting": "等待开始",
    "state.evaluating": "评审中",
    "state.suspended": "已暂停",
    "state.ended": "已结束",
    "state.archived": "已归档",
    "phase.chair_election": "推选组长",
    "phase.review": "资格/符合性审查",
    "phase.detailed_review": "详细评审",
    "phase.price_scoring": "价格评分",
    "phase.summary": "汇总",
    "phase.recommendation": "推荐候选人",
    "phase.report_signing": "签署评标报告",
    "warning.title": "监督提示",
  },
  en: {
    "lang.switch": "中文",
    "skip": "Skip to main content",
    "conn.connecting": "Connecting…",
    "conn.live": "Live",
    "conn.reconnecting": "Connection lost, reconnecting…",
    "conn.refused": "Connection refused: {message}",
    "conn.closed": "Connection closed",
    "index.title": "Remote cross-region bid evaluation",
    "index.expert": "Evaluation experts: log in with the one-time code from check-in",
    "index.staff": "Staff and supervisors",
    "index.username": "User name",
    "index.password": "Password",
    "index.login": "Log in",
    "expert.title": "Expert seat",
    "expert.login": "Log in",
    "expert.code": "One-time login code",
    "expert.login_button": "Log in",
    "expert.session": "Evaluation session",
    "expert.state": "State",
    "expert.phase": "Phase",
    "expert.seat": "Seat",
    "expert.declaration": "No-conflict declaration",
    "expert.declaration_confirm": "I confirm I have no conflict of interest with any bidder and will evaluate independently, objectively and fairly.",
    "expert.declaration_submit": "Submit declaration",
    "expert.declared": "Declaration submitted; you are seated.",
    "expert.scoring": "Detailed review scores",
    "expert.scoring_help": "Each score must lie in the range shown, with at most two decimals. Once submitted, a sheet changes only through a flag.",
    "expert.range": "({min}–{max} points)",
    "expert.total": "Total",
    "expert.submit_scores": "Submit scores",
    "expert.error.number": "Enter a number with at most two decimals (e.g. 17 or 17.5)",
    "expert.error.range": "Out of range: must be between {min} and {max}",
    "expert.error.required": "Fill this in",
    "expert.invalid_summary": "{count} score(s) need correcting; see the fields marked in red.",
    "expert.submitted": "Scores submitted (digest {sha}…).",
    "expert.not_scoring": "The session is not in the detailed review; the score sheet is not open yet.",
    "state.waiting": "Waiting",
    "state.evaluating": "Evaluating",
    "state.suspended": "Suspended",
    "state.ended": "Ended",
    "state.archived": "Archived",
    "phase.chair_election": "Electing the chair",
    "phase.review": "Qualification review",
    "phase.detailed_review": "Detailed review",
    "phase.price_scoring": "Price scoring",
    "phase.summary": "Summary",
    "phase.recommendation": "Recommendation",
    "phase.report_signing": "Signing the report",
    "warning.title": "Supervisor's warning",
  },
};

export let lang = localStorage.getItem("evalroom.lang") === "en" ? "en" : "zh";

export function t(key, values = {}) {
  const text = TEXT[lang][key] ?? TEXT.zh[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in values ? String(values[name]) : `{${name}}`));
}

export function apply(root = document) {
  document.documentElement.lang = lang === "en" ? "en" : "zh-CN";
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-attr]")) {
    const [attribute, key] = el.dataset.i18nAttr.split(":");
    el.setAttribute(attribute, t(key));
  }
}

export function toggle() {
  lang = lang === "en" ? "zh" : "en";
  localStorage.setItem("evalroom.lang", lang);
  apply();
}
