"""Names of the GB/T 2260 administrative divisions the platform knows (reference data, zh-CN)."""

from __future__ import annotations

NAMES: dict[str, str] = {
    "41": "河南省",
    "4115": "信阳市",
    "411502": "浉河区",
    "411503": "平桥区",
    "411521": "罗山县",
    "411522": "光山县",
    "411523": "新县",
    "411524": "商城县",
    "411525": "固始县",
    "411526": "潢川县",
    "411527": "淮滨县",
    "411528": "息县",
    "4101": "郑州市",
    "410102": "中原区",
    "410103": "二七区",
    "410104": "管城回族区",
    "410105": "金水区",
    "410108": "惠济区",
    "110000": "北京市",
    "310000": "上海市",
    "420100": "武汉市",
    "440100": "广州市",
    "440300": "深圳市",
    "320500": "苏州市",
    "330100": "杭州市",
}


def name_of(code: str) -> str:
    """The zh-CN name of a division code, or the code itself when unknown."""
    return NAMES.get(code, code)
