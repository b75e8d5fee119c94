// The index page's interface text beyond the shared keys (js/i18n.js has index.title, index.staff, …).

import { extend } from "./i18n.js";

extend({
  zh: {
    "index.login_failed": "登录失败：用户名或密码不正确，或账户已被锁定。",
    "index.continue": "进入我的页面",
    "index.logout": "退出登录",
    "index.signed_in": "已登录：{subject}（{role}）。",
    "role.hall-operator": "场地工作人员",
    "role.supervisor": "监督人员",
    "role.coordinator-admin": "调度平台管理员",
    "role.expert": "评标专家",
  },
  en: {
    "index.login_failed": "Login failed: wrong user name or password, or the account is locked.",
    "index.continue": "Go to my page",
    "index.logout": "Log out",
    "index.signed_in": "Logged in as {subject} ({role}).",
    "role.hall-operator": "hall operator",
    "role.supervisor": "supervisor",
    "role.coordinator-admin": "coordinator admin",
    "role.expert": "evaluation expert",
  },
});
