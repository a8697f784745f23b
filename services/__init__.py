"""Jinqiao (金桥): a province-wide platform for managing and serving 流动党员."""
