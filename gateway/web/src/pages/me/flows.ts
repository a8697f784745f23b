// The member's own record and flows, as the API answers the member (numbers masked; never a full ID number).
import { api, data } from "@/api/client";
import type { components } from "@/api/schema";
import { me } from "@/session";

export type Member = components["schemas"]["MemberOut"];
export type Flow = components["schemas"]["FlowOut"];
export type NotebookEntry = components["schemas"]["NotebookEntryOut"];

/** The member's county and id (a member's token names both). */
export function self(): { tenant: string; member: string } {
  const who = me();
  if (!who.tenant || !who.member) throw new Error("该账号未绑定党员本人");
  return { tenant: who.tenant, member: who.member };
}

export async function myRecord(): Promise<Member> {
  const { tenant, member } = self();
  return data(api.GET("/api/v1/tenants/{tenant}/members/{member_id}", {
    params: { path: { tenant, member_id: member } },
  }));
}

export async function myFlows(): Promise<Flow[]> {
  const { tenant, member } = self();
  const page = await data(api.GET("/api/v1/tenants/{tenant}/members/{member_id}/flows", {
    params: { path: { tenant, member_id: member }, query: { page_size: 50 } },
  }));
  return page.flows;
}

export async function myFlow(flowId: string): Promise<Flow> {
  const { tenant } = self();
  return data(api.GET("/api/v1/tenants/{tenant}/flows/{flow_id}", {
    params: { path: { tenant, flow_id: flowId } },
  }));
}

export async function myActivities(): Promise<NotebookEntry[]> {
  const { tenant, member } = self();
  return data(api.GET("/api/v1/tenants/{tenant}/members/{member_id}/activities", {
    params: { path: { tenant, member_id: member } },
  }));
}

/** Flows still open (away from home), as the member follows them. */
export const OPEN = new Set(["registered", "offered", "refused", "managed"]);

/** A flow's state in the member's words: where the 报到 stands. */
export function checkInState(f: Flow): { text: string; type: "success" | "warning" | "info" | "danger" } {
  if (f.checked_in_at) return { text: "已报到", type: "success" };
  if (f.status === "offered") return { text: "待报到", type: "warning" };
  if (f.status === "registered") return { text: "等待流入地安排党组织", type: "info" };
  if (f.status === "refused") return { text: "流入地未接收，家乡党组织正在重新联系", type: "danger" };
  return { text: "未报到", type: "info" };
}
