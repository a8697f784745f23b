// 发展党员's stages in their order, and the two sides of 双向考察.
export const STAGES = ["applicant", "activist", "candidate", "probationary", "full"] as const;
export type Stage = (typeof STAGES)[number];

export const STAGE_NAMES: Record<Stage, string> = {
  applicant: "入党申请人",
  activist: "入党积极分子",
  candidate: "发展对象",
  probationary: "预备党员",
  full: "正式党员",
};

/** What the date of reaching each stage is called in the 发展党员 records. */
export const STAGE_DATE_NAMES: Record<Stage, string> = {
  applicant: "申请入党",
  activist: "确定为入党积极分子",
  candidate: "确定为发展对象",
  probationary: "接收为预备党员",
  full: "转为正式党员",
};

export const SIDE_NAMES: Record<string, string> = { home: "流出地", destination: "流入地" };

export const nextStage = (stage: string): Stage | null => {
  const i = STAGES.indexOf(stage as Stage);
  return i >= 0 && i < STAGES.length - 1 ? STAGES[i + 1] : null;
};

export const stageName = (stage: string): string => STAGE_NAMES[stage as Stage] || "—";
