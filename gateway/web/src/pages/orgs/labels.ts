// zh-CN names of the organisation codes the 组织架构 pages show (the API's codes never reach the screen).

export const ORG_KIND_NAMES: Record<string, string> = {
  county_committee: "县委",
  township_committee: "乡镇党委",
  village_branch: "村党支部",
  community_branch: "社区党支部",
  enterprise_branch: "企业党支部",
  institution_branch: "机关事业单位党支部",
  external_general_branch: "驻外党总支",
  external_branch: "驻外党支部",
  town_station: "驻城党建工作站",
  service_center: "流动党员服务中心",
  temporary_branch: "临时党支部",
  online_branch: "网上党支部",
  functional_group: "功能党小组",
  industry_branch: "行业党支部",
};

/** The tag colour of each kind in the tree (committees red, branches plain, external and station gold). */
export const ORG_KIND_TAG: Record<string, "danger" | "warning" | "success" | "info" | "primary"> = {
  county_committee: "danger",
  township_committee: "danger",
  external_general_branch: "warning",
  external_branch: "warning",
  town_station: "success",
  service_center: "success",
  temporary_branch: "info",
  online_branch: "info",
  functional_group: "info",
};

/** What may be founded under each kind (the organizations service's rule, for the 新建下级组织 form). */
const BRANCHES = ["village_branch", "community_branch", "enterprise_branch", "institution_branch", "industry_branch"];
export const ALLOWED_CHILDREN: Record<string, string[]> = {
  county_committee: ["township_committee", "external_general_branch", "external_branch", "town_station",
    "service_center", "online_branch", "industry_branch", "institution_branch", "enterprise_branch",
    "temporary_branch"],
  township_committee: [...BRANCHES, "town_station", "service_center", "temporary_branch"],
  external_general_branch: ["external_branch", "functional_group", "temporary_branch"],
  external_branch: ["functional_group"],
  town_station: ["temporary_branch", "functional_group"],
  service_center: ["temporary_branch", "functional_group"],
  temporary_branch: ["functional_group"],
  online_branch: ["functional_group"],
  functional_group: [],
  ...Object.fromEntries(BRANCHES.map((k) => [k, ["functional_group"]])),
};

export const EXTERNAL_KINDS = new Set(["external_general_branch", "external_branch"]);
/** Grids (网格) are drawn under a station or a township committee. */
export const GRID_KINDS = new Set(["town_station", "township_committee", "service_center"]);

export const FOUNDING_NAMES: Record<string, string> = {
  standalone: "单独建", hosted: "依托建", affiliated: "挂靠建", joint: "联合建",
};

export const ORG_STATUS_NAMES: Record<string, string> = { active: "正常", dissolved: "已撤销" };

export const POSITION_NAMES: Record<string, string> = {
  secretary: "书记",
  deputy_secretary: "副书记",
  organization_committee_member: "组织委员",
  guidance_officer: "党建指导员",
  liaison: "联络员",
  grid_leader: "网格长",
};

export const MEETING_TYPE_NAMES: Record<string, string> = {
  general_meeting: "支部党员大会",
  committee_meeting: "支部委员会",
  group_meeting: "党小组会",
  party_lecture: "党课",
  theme_day: "主题党日",
};

export const ATTENDANCE_NAMES: Record<string, string> = { present: "出席", absent: "缺席", on_leave: "请假" };

export const CHECKLIST_HINTS: Record<string, string> = {
  activity_room: "如：租用或共建的活动场所地址、面积",
  sign_and_flag: "如：悬挂党组织牌子、党旗的位置",
  register_and_roster: "如：党员花名册、流动党员登记簿",
  rules: "如：上墙的组织生活、党费收缴等制度",
  work_plan: "如：本年度工作计划的名称和制定日期",
  study_materials: "如：配备的学习书籍、资料",
  activity_records: "如：三会一课记录本",
};

export const kindName = (kind: string): string => ORG_KIND_NAMES[kind] || "党组织";
