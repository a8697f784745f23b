// Dates as people in the province read them: Beijing time (Asia/Shanghai), whatever the browser's zone.
const ZONE = "Asia/Shanghai";

const dateFmt = new Intl.DateTimeFormat("zh-CN", { timeZone: ZONE, year: "numeric", month: "2-digit", day: "2-digit" });
const timeFmt = new Intl.DateTimeFormat("zh-CN", {
  timeZone: ZONE, year: "numeric", month: "2-digit", day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false,
});
const longDateFmt = new Intl.DateTimeFormat("zh-CN", { timeZone: ZONE, year: "numeric", month: "long", day: "numeric" });

function parse(value: string | number | Date | null | undefined): Date | null {
  if (value === null || value === undefined || value === "") return null;
  // A bare date (2026-12-01) is a calendar day, not UTC midnight: keep it as that day.
  if (typeof value === "string" && /^\d{4}-\d{2}-\d{2}$/.test(value)) return new Date(`${value}T12:00:00+08:00`);
  const d = value instanceof Date ? value : new Date(value);
  return Number.isNaN(d.getTime()) ? null : d;
}

/** 2026/12/01 */
export const formatDate = (v: string | number | Date | null | undefined): string => {
  const d = parse(v);
  return d ? dateFmt.format(d) : "—";
};

/** 2026/12/01 09:30 */
export const formatTime = (v: string | number | Date | null | undefined): string => {
  const d = parse(v);
  return d ? timeFmt.format(d) : "—";
};

/** 2026年12月1日 (letters and certificates) */
export const formatLongDate = (v: string | number | Date | null | undefined): string => {
  const d = parse(v);
  return d ? longDateFmt.format(d) : "—";
};

/** Today's calendar day in Beijing, as YYYY-MM-DD. */
export function todayInBeijing(): string {
  const parts = new Intl.DateTimeFormat("en-CA", { timeZone: ZONE, year: "numeric", month: "2-digit", day: "2-digit" });
  return parts.format(new Date());
}

/** A count with thousands separators; a suppressed small cell (null) shows as “<5”-style text from the API. */
export const formatCount = (n: number | null | undefined): string => (n === null || n === undefined ? "—" : n.toLocaleString("zh-CN"));

/** Money typed in 元 ("1,234.5", up to two decimals) as integer 分, never through a float multiplication; null when
 * it is not an amount. */
export function yuanToFen(text: string): number | null {
  const m = /^(\d{1,12})(?:\.(\d{1,2}))?$/.exec(text.trim().replace(/[,，]/g, ""));
  if (!m) return null;
  return Number(m[1]) * 100 + Number((m[2] || "").padEnd(2, "0"));
}

/** 分 → "1,234.50 元" (integer arithmetic only). */
export function fenToYuan(fen: unknown): string {
  if (typeof fen !== "number" || !Number.isFinite(fen)) return "—";
  const sign = fen < 0 ? "-" : "";
  const abs = Math.abs(Math.trunc(fen));
  return `${sign}${Math.floor(abs / 100).toLocaleString("zh-CN")}.${String(abs % 100).padStart(2, "0")} 元`;
}
