// The member's fields as the 党员台账 import template names them (15 columns), grouped for the form and the page.
import type { components } from "@/api/schema";

export type Member = components["schemas"]["MemberOut"];

/** 学历: the categories of the Party's statistical reports (the registry accepts these only). */
export const EDUCATIONS = ["研究生", "大学本科", "大学专科", "中专", "高中", "初中", "小学及以下"];

/** Common 民族 first; any other is typed in full (e.g. “锡伯族”). */
export const ETHNICITIES = ["汉族", "回族", "维吾尔族", "哈萨克族", "蒙古族", "藏族", "壮族", "满族", "苗族", "彝族",
  "土家族", "朝鲜族"];

/** Every field's Chinese name (the history shows which fields changed). */
export const FIELD_NAMES: Record<string, string> = {
  name: "姓名", gender: "性别", ethnicity: "民族", birth_date: "出生日期", id_number: "公民身份号码",
  phone: "手机号码", education: "学历", join_date: "入党日期", full_member_date: "转正日期",
  membership_status: "党员类别", township: "乡镇(街道)", village: "村(社区)", household_address: "户籍地址",
  occupation: "职业", home_branch_id: "所在党支部",
};

export const ID_NUMBER = /^\d{17}[\dXx]$/;
