// Whether a year the desk's clocks need has no holiday arrangement yet (the State Council publishes next year's
// in late autumn; until the province enters it, due times across the new year are estimates).
import { calendarYears, type CalendarYear } from "@/pages/tickets/desk";

export const SOURCE_LABEL: Record<string, string> = {
  package: "国务院通知", province: "省级录入", rules_only: "仅法定节假日（未发布调休）",
};

/** The banner's words for a missing year. */
export const missingText = (year: number): string =>
  `${year} 年节假日安排尚未录入，跨年的办理时限按法定节假日估算，请省委组织部录入国务院通知`;

/** The first year the county's calendar reports missing, or null (also when the caller may not read it). */
export async function missingYear(tenant: string): Promise<number | null> {
  try {
    const years: CalendarYear[] = await calendarYears(tenant);
    const missing = years.filter((y) => y.missing).map((y) => y.year).sort();
    return missing.length ? missing[0] : null;
  } catch {
    return null;
  }
}
