"""Chinese labels for the report's codes (the names the catalogue and the API use)."""

from __future__ import annotations

REFERRAL_STATES = {
    "requested": "待接收",
    "accepted": "已接收",
    "rejected": "已拒绝",
    "in-progress": "帮扶中",
    "on-hold": "暂缓",
    "completed": "已完成",
    "failed": "未能完成",
    "cancelled": "已撤回",
    "expired": "超时未处理",
    "cancelled-by-withdrawal": "因撤回同意取消",
}
HARDSHIP_TYPES = {
    "low_income": "低收入",
    "minimum_living": "最低生活保障",
    "extreme_poverty": "特困供养",
    "serious_illness": "大病",
    "disability": "残疾",
    "sudden_difficulty": "突发困难",
    "education": "就学困难",
    "housing": "住房困难",
    "": "未注明",
}
HELP_KINDS = {
    "material": "物资",
    "cash": "现金",
    "visits_and_care": "探访照料",
    "psychological": "心理慰藉",
    "rehabilitation": "康复训练",
    "capacity_building": "能力提升",
    "insurance": "保险",
    "medical": "医疗",
    "education": "教育",
}
REVERSE_STATES = {
    "submitted": "已提交",
    "received": "已接收",
    "opened": "已受理为救助申请",
    "closed": "已办结（未受理）",
}


def label(table: dict[str, str], code: str) -> str:
    return table.get(code, code or "未注明")


REJECTION_REASONS = {
    "no_capacity": "名额已满",
    "not_eligible": "不符合条件",
    "cannot_reach": "无法联系",
    "duplicate": "重复转介",
    "other": "其他",
    "unspecified": "未注明",
}
