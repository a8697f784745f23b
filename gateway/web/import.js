// 导入党员: upload a 台账 file, follow its progress, and list every error when it fails.

import { getImport, importTemplate, Problem, startImport } from "./api.js";
import { $, busy, cell } from "./dom.js";
import { reportProblem, showNotice } from "./notice.js";

const POLL_MS = 1000;
const number = new Intl.NumberFormat("zh-CN");

function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return [...crypto.getRandomValues(new Uint8Array(16))].map((x) => x.toString(16).padStart(2, "0")).join("");
}

function errorRow(e) {
  const tr = document.createElement("tr");
  // Row 0 is the file as a whole (e.g. the import was interrupted), not a line of the sheet.
  tr.append(cell("td", e.row || "", "num"), cell("td", e.column), cell("td", e.reason));
  return tr;
}

function showProgress(root, found) {
  const { total_rows: total, processed_rows: done } = found;
  const share = total ? done / total : 0;
  $("#import-progress", root).hidden = false;
  $("#import-bar-fill", root).style.setProperty("--share", String(found.state === "succeeded" ? 1 : share));
  $("#import-bar", root).setAttribute("aria-valuenow", String(Math.round(share * 100)));
  let text;
  if (found.state === "succeeded") text = `导入完成：共导入 ${number.format(found.imported_rows)} 名党员。`;
  else if (found.state === "failed") text = `未导入：已校验 ${number.format(done)} / ${number.format(total)} 行，发现错误。`;
  else if (!total) text = `正在读取文件“${found.file_name}”…`;
  else if (done < total) text = `正在校验：${number.format(done)} / ${number.format(total)} 行`;
  else text = `校验通过，正在写入 ${number.format(total)} 名党员…`;
  $("#import-status", root).textContent = text;
}

function showErrors(root, found) {
  const box = $("#import-errors", root);
  if (found.state !== "failed") {
    box.hidden = true;
    return;
  }
  const count = found.errors.length;
  $("#import-errors-title", root).textContent = found.errors_truncated
    ? `文件中有错误，整个文件未导入。以下仅列出前 ${count} 处，请改正后重新上传：`
    : `文件中有 ${count} 处错误，整个文件未导入。请改正后重新上传：`;
  $("#import-error-table tbody", root).replaceChildren(...found.errors.map(errorRow));
  box.hidden = false;
}

async function download(tenant, fmt) {
  const blob = await importTemplate(tenant, fmt);
  const link = document.createElement("a");
  link.href = URL.createObjectURL(blob);
  link.download = `党员导入模板.${fmt}`;
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(link.href), 10000);
}

export function mountImport(root, tenant, onImported) {
  const form = $("#import-form", root);
  const submit = $("#import-submit", root);
  const refresh = $("#import-refresh", root);
  for (const fmt of ["xlsx", "csv"]) {
    const link = $(`#import-template-${fmt}`, root);
    link.href = `/api/v1/tenants/${encodeURIComponent(tenant)}/imports/template.${fmt}`;
    link.addEventListener("click", (event) => {
      event.preventDefault();
      download(tenant, fmt).catch(reportProblem);
    });
  }
  refresh.addEventListener("click", onImported);

  async function follow(id) {
    // Stop when the page was left (the panel is no longer in the document).
    while (root.isConnected && $("#import-form", root) === form) {
      let found;
      try {
        found = await getImport(tenant, id);
      } catch (error) {
        reportProblem(error);
        return;
      }
      showProgress(root, found);
      showErrors(root, found);
      if (found.state === "succeeded") {
        showNotice("success", "导入成功", `已导入 ${number.format(found.imported_rows)} 名党员。`);
        refresh.hidden = false;
        return;
      }
      if (found.state === "failed") {
        showNotice("error", "导入失败，未导入任何数据", "请按下方错误清单改正文件后重新上传。");
        return;
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const file = form.elements.file.files[0];
    if (!file) {
      showNotice("error", "请选择台账文件", "支持 CSV 或 Excel(.xlsx)。");
      return;
    }
    $("#import-errors", root).hidden = true;
    refresh.hidden = true;
    await busy(submit, async () => {
      try {
        const started = await startImport(tenant, file, newKey());
        showProgress(root, started);
        await follow(started.id);
      } catch (error) {
        if (!(error instanceof Problem)) throw error;
        const details = error.errors.map((e) => e.detail).filter(Boolean);
        if (error.status === 422 || error.status === 413) {
          showNotice("error", error.problem.title, [error.problem.detail, ...details].filter(Boolean).join("；"));
        } else {
          reportProblem(error);
        }
      }
    });
  });
}
