// Interface text in Chinese (the default) and English. Elements carry data-i18n="key" (their text) or
// data-i18n-attr="attribute:key" (an attribute); t(key, values) fills {name} placeholders. This file holds the
// text every page shares; each page adds its own with extend() (js/<page>-text.js), so pages do not collide.

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

export function extend(more) {
  for (const [language, entries] of Object.entries(more)) Object.assign(TEXT[language], entries);
}

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
