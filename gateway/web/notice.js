// The one notice line under the header: problems, successes, hints.

import { Problem } from "./api.js";
import { $ } from "./dom.js";

export function showNotice(kind, title, detail = "") {
  const box = $("#notice");
  box.dataset.kind = kind;
  // Errors interrupt a screen reader; successes wait their turn.
  box.setAttribute("role", kind === "error" ? "alert" : "status");
  $("#notice-title").textContent = title;
  $("#notice-detail").textContent = detail;
  box.hidden = false;
}

export function showProblem(problem) {
  showNotice("error", problem.problem.title, problem.problem.detail || "");
}

/**
 * Show a failed call's problem. A 401 is left alone: the app already went back to the login
 * form and said why. Anything that is not a Problem is a bug and keeps propagating.
 */
export function reportProblem(error) {
  if (!(error instanceof Problem)) throw error;
  if (error.status !== 401) showProblem(error);
}

export function clearNotice() {
  $("#notice").hidden = true;
}

export function installNotice() {
  $("#notice-close").addEventListener("click", clearNotice);
}
