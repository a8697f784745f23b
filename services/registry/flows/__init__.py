"""Flows (外出登记 → 报到 → 回归/转出), the destination's answers, policy timers, activities and 双向评议."""
