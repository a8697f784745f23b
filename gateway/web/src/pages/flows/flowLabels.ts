// What the flow pages show of a flow: its status as a tag, the steps it went through, where it went.
import { FLOW_STATUS_NAMES, regionName } from "@/lib/labels";

export const flowStatusName = (s: string): string => (FLOW_STATUS_NAMES as Record<string, string>)[s] || "未知状态";

export const flowStatusTag = (s: string): "primary" | "success" | "warning" | "info" | "danger" =>
  ({ registered: "primary", offered: "warning", refused: "danger", managed: "success", returned: "info",
    transferred: "info" } as const)[s as "registered"] || "info";

/** 外出登记 → 接收 → 报到 → 回归/转出: the step the flow has reached (el-steps' active index). */
export function flowStep(status: string): number {
  return ({ registered: 1, refused: 1, offered: 2, managed: 3, returned: 4, transferred: 4 } as Record<string, number>)[
    status] ?? 0;
}

export const destinationOf = (f: { destination_name?: string; destination_code: string }): string =>
  f.destination_name && f.destination_name !== f.destination_code ? f.destination_name : regionName(f.destination_code);
