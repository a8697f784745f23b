// zh-CN names of the codes the API returns.

export const ROLE_NAMES = {
  province_analyst: "省委组织部分析员",
  city_analyst: "市委组织部分析员",
  county_admin: "县委组织部管理员",
  township_officer: "乡镇党委工作人员",
  station_staff: "驻城党建工作站工作人员",
  guidance_officer: "党建指导员",
  branch_secretary: "党支部书记",
  member: "党员",
};

export const STATUS_NAMES = { full: "正式党员", probationary: "预备党员" };

export const GENDER_NAMES = { male: "男", female: "女" };

export const roleName = (role) => ROLE_NAMES[role] || role;
