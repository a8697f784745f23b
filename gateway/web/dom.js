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

/** An element with children (already elements or text). */
export function el(tag, { className, text, attrs = {} } = {}, ...children) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  for (const [name, value] of Object.entries(attrs)) {
    if (value !== undefined && value !== null && value !== false) node.setAttribute(name, value === true ? "" : value);
  }
  node.append(...children);
  return node;
}

/** A small button inside a table row; its accessible name names the row's person too. */
export function rowButton(text, who, onClick, className = "btn btn--small") {
  const button = el("button", { className, text, attrs: { type: "button", "aria-label": `${text} ${who}` } });
  button.addEventListener("click", () => busy(button, () => onClick(button)));
  return button;
}

const CHINA_TIME = new Intl.DateTimeFormat("zh-CN", {
  timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit",
  hour12: false,
});

/** An API timestamp in Beijing time, as the ledgers print it: 2026-11-24 09:30. */
export function formatTime(value) {
  if (!value) return "";
  const when = new Date(value);
  if (Number.isNaN(when.getTime())) return "";
  const part = Object.fromEntries(CHINA_TIME.formatToParts(when).map((p) => [p.type, p.value]));
  return `${part.year}-${part.month}-${part.day} ${part.hour === "24" ? "00" : part.hour}:${part.minute}`;
}

/** Today in Beijing as YYYY-MM-DD, the default of the date fields. */
export function today() {
  const part = Object.fromEntries(CHINA_TIME.formatToParts(new Date()).map((p) => [p.type, p.value]));
  return `${part.year}-${part.month}-${part.day}`;
}

/** Hand a Blob to the browser as a download with a file name. */
export function saveBlob(blob, fileName) {
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = fileName;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}
