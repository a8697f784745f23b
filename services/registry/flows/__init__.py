"""Flows (外出登记 → 报到 → 回归/转出), the destination's answers, policy timers and returnees (回归工程)."""
