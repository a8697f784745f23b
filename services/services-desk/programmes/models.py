"""Programmes' persistence model: a row of ``loan_programmes`` mapped to the domain's Programme."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from jinqiao.desk.programmes.domain import Programme, Rules

PROGRAMME_COLUMNS = (
    "tenant_id, id, name, description, product, sponsor, shared_code, bank_code, bank_name, cap_per_person_fen,"
    " min_amount_fen, max_term_months, methods, rate_bp, subsidy_bp, total_quota_fen, committed_fen, window_start,"
    " window_end, rules, township_final_up_to_fen, review_days, bank_days, active, version, created_at"
)

_RULE_FIELDS = frozenset(Rules.__dataclass_fields__)


def rules_from_json(value: Any) -> Rules:
    """The jsonb ``rules`` column as Rules (unknown keys ignored, so a later rule never breaks an older reader)."""
    data = json.loads(value) if isinstance(value, str) else (value or {})
    return Rules(**{k: v for k, v in dict(data).items() if k in _RULE_FIELDS})


def rules_to_json(rules: Rules) -> str:
    """Rules as the jsonb ``rules`` column's text."""
    return json.dumps({k: getattr(rules, k) for k in sorted(_RULE_FIELDS)}, ensure_ascii=False)


def programme_from_record(r: Mapping[str, Any]) -> Programme:
    """A loan_programmes row as a Programme."""
    return Programme(
        tenant_id=r["tenant_id"], id=str(r["id"]), name=r["name"], description=r["description"],
        product=int(r["product"]), sponsor=int(r["sponsor"]), shared_code=r["shared_code"],
        bank_code=r["bank_code"], bank_name=r["bank_name"], cap_per_person_fen=int(r["cap_per_person_fen"]),
        min_amount_fen=int(r["min_amount_fen"]), max_term_months=int(r["max_term_months"]),
        methods=tuple(int(m) for m in r["methods"]), rate_bp=int(r["rate_bp"]), subsidy_bp=int(r["subsidy_bp"]),
        total_quota_fen=int(r["total_quota_fen"]), committed_fen=int(r["committed_fen"]),
        window_start=r["window_start"], window_end=r["window_end"], rules=rules_from_json(r["rules"]),
        township_final_up_to_fen=int(r["township_final_up_to_fen"]), review_days=int(r["review_days"]),
        bank_days=int(r["bank_days"]), active=r["active"], version=int(r["version"]), created_at=r["created_at"],
    )
