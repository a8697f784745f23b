"""The 活动记事本 (activities recorded while away, organisational life attended as a guest) and 双向评议."""
