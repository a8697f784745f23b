// The login form: username and password for a bearer token.

import { login, Problem } from "./api.js";
import { $, busy } from "./dom.js";

export function installLogin(onLoggedIn) {
  const form = $("#login-form");
  const error = $("#login-error");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.hidden = true;
    const username = form.elements.username.value.trim();
    const password = form.elements.password.value;
    if (!username || !password) {
      showLoginError("请输入用户名和密码。");
      return;
    }
    await busy(form.querySelector("button[type=submit]"), async () => {
      try {
        await login(username, password);
      } catch (failure) {
        if (!(failure instanceof Problem)) throw failure;
        // The gateway does not say which part was wrong, and neither do we.
        showLoginError(failure.problem.detail || failure.problem.title);
        form.elements.password.select();
        return;
      }
      form.reset();
      await onLoggedIn();
    });
  });
}

function showLoginError(text) {
  const error = $("#login-error");
  error.textContent = text;
  error.hidden = false;
}

export function showLogin() {
  $("#login-view").hidden = false;
  $("#login-username").focus();
}

export function hideLogin() {
  $("#login-view").hidden = true;
  $("#login-error").hidden = true;
}
