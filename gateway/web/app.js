// The console's entry point: who is logged in decides which page is shown.

import { logout as endSession, me, onUnauthorized, session } from "./api.js";
import { renderAnalyst, renderCounty, renderStation } from "./county.js";
import { $ } from "./dom.js";
import { roleName } from "./labels.js";
import { hideLogin, installLogin, showLogin } from "./login.js";
import { renderMember } from "./member.js";
import { clearNotice, installNotice, reportProblem, showNotice } from "./notice.js";

const PAGES = {
  county_admin: renderCounty,
  station_staff: renderStation,
  city_analyst: renderAnalyst,
  province_analyst: renderAnalyst,
  member: renderMember,
};

function showWho(who) {
  $("#whoami-user").textContent = who.user;
  $("#whoami-role").textContent = roleName(who.role);
  $("#whoami-scope").textContent = who.scope_name;
  $("#whoami").hidden = false;
}

function leave() {
  $("#view").replaceChildren();
  // The chosen tab belongs to the session that chose it.
  if (location.hash) history.replaceState(null, "", location.pathname + location.search);
  $("#whoami").hidden = true;
  document.title = "金桥 · 流动党员管理服务平台";
  showLogin();
}

async function enter() {
  if (!session.token) {
    leave();
    return;
  }
  let who;
  try {
    who = await me();
  } catch (error) {
    reportProblem(error);
    leave();
    return;
  }
  hideLogin();
  clearNotice();
  showWho(who);
  document.title = `${who.scope_name} · 金桥`;
  const page = PAGES[who.role];
  // A member's own pages need the member record the token names.
  if (page && (who.role !== "member" || who.member)) page($("#view"), who);
  else showNotice("info", "当前账号暂无可用的控制台页面", `角色：${roleName(who.role)}`);
}

async function logout() {
  // The gateway ends the session first, so the tokens are refused everywhere, not only forgotten here.
  await endSession();
  leave();
  showNotice("info", "已退出登录");
}

installNotice();
installLogin(enter);
onUnauthorized((problem) => {
  leave();
  showNotice("error", problem.problem.title, "请重新登录。");
});
$("#logout").addEventListener("click", logout);
enter();
