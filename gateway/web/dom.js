// Small DOM helpers. Data is only ever set as text, never parsed as HTML.

export const $ = (selector, root = document) => root.querySelector(selector);

/** A fresh copy of a <template> from index.html. */
export function fromTemplate(id) {
  return document.getElementById(id).content.cloneNode(true);
}

/** An element with text content; empty values show as a dash so columns stay aligned. */
export function cell(tag, text, className) {
  const el = document.createElement(tag);
  el.textContent = text === null || text === undefined || text === "" ? "—" : String(text);
  if (className) el.className = className;
  return el;
}

/** Disable a button while an async action runs, so a double click cannot send twice. */
export async function busy(button, action) {
  button.disabled = true;
  button.setAttribute("aria-busy", "true");
  try {
    return await action();
  } finally {
    button.disabled = false;
    button.removeAttribute("aria-busy");
  }
}
