"""The linkage report as one self-contained HTML page: inline CSS and SVG bar charts, no
script, no external asset, UTF-8 with Chinese labels (a CJK font stack, so the labels render
with whatever Chinese font the reader's system has).

Every figure of the report appears in a table cell marked ``data-figure="<path>"`` (the path of
the figure in the JSON document, e.g. ``referrals.by_state.accepted``), beside a chart of the
same numbers: a bar per row, a hatched bar for a count shown as "<5".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from gateway.report.labels import (
    HARDSHIP_TYPES,
    HELP_KINDS,
    REFERRAL_STATES,
    REJECTION_REASONS,
    REVERSE_STATES,
    label,
)
from gateway.report.suppression import SUPPRESSED, THRESHOLD

FONT = (
    '"Noto Sans CJK SC", "Source Han Sans SC", "PingFang SC", "Microsoft YaHei", '
    '"WenQuanYi Micro Hei", sans-serif'
)
CSS = f"""
body {{ font-family: {FONT}; color: #1f2933; margin: 2rem auto; max-width: 960px;
       padding: 0 1rem; line-height: 1.5; }}
h1 {{ font-size: 1.6rem; margin-bottom: .2rem; }}
h2 {{ font-size: 1.2rem; border-bottom: 2px solid #2b6cb0; padding-bottom: .2rem;
      margin-top: 2.2rem; }}
.meta, .note {{ color: #52606d; font-size: .9rem; }}
.kpis {{ display: flex; flex-wrap: wrap; gap: 1rem; margin: 1rem 0; }}
.kpi {{ border: 1px solid #cbd2d9; border-radius: 6px; padding: .6rem 1rem; min-width: 9rem; }}
.kpi .value {{ font-size: 1.5rem; font-weight: bold; color: #2b6cb0; }}
.kpi .name {{ font-size: .85rem; color: #52606d; }}
table {{ border-collapse: collapse; margin: .6rem 0 1rem; font-size: .92rem; }}
th, td {{ border: 1px solid #cbd2d9; padding: .25rem .6rem; text-align: left; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
th {{ background: #f0f4f8; }}
.code {{ color: #7b8794; font-size: .8rem; }}
svg text {{ font-family: {FONT}; font-size: 13px; fill: #1f2933; }}
"""
BAR_COLOUR = "#2b6cb0"
LABEL_WIDTH = 190
BAR_WIDTH = 380
ROW_HEIGHT = 26


def format_value(value: Any) -> str:
    """How a figure of the JSON document reads on the page."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "是" if value else "否"
    if isinstance(value, float):
        return f"{value:,.2f}" if value % 1 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def render_html(report: Mapping[str, Any]) -> str:
    year, month = report["period"].split("-")
    title = f"江北区社会救助与慈善帮扶衔接情况报告 · {year}年{int(month)}月"
    referrals, help_, reverse = report["referrals"], report["help"], report["reverse_referrals"]
    scope = report["scope"]["streets"]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="zh-CN"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="meta">统计期间：{escape(report["from"][:10])} 至 {escape(report["until"][:10])}'
        f"（不含），北京时间 · 范围：{escape('全区' if scope == 'district' else '、'.join(scope))}"
        f" · 生成时间：{escape(report['generated_at'])}</p>",
        f'<p class="note">为保护个人信息，1至4的数量显示为“{escape(SUPPRESSED)}”；'
        f"不足{THRESHOLD}条记录的金额、时长和中位数不予显示（“—”）。报告不含任何个人身份信息。</p>",
        '<div class="kpis">',
        _kpi("转介总数", referrals["total"], "referrals.total"),
        _kpi("已接收", referrals["accepted"], "referrals.accepted"),
        _kpi("接收用时中位数（小时）", referrals["median_hours_to_accept"],
             "referrals.median_hours_to_accept"),
        _kpi("已完成", referrals["completed"], "referrals.completed"),
        _kpi("完成用时中位数（小时）", referrals["median_hours_to_complete"],
             "referrals.median_hours_to_complete"),
        _kpi("帮扶记录", help_["total"]["records"], "help.total.records"),
        _kpi("帮扶金额（元）", help_["total"]["amount_yuan"], "help.total.amount_yuan"),
        _kpi("反向转介", reverse["total"], "reverse_referrals.total"),
        "</div>",
        "<h2>一、政府向慈善组织转介</h2>",
        _breakdown("按状态", referrals["by_state"], "referrals.by_state", REFERRAL_STATES),
        _breakdown("按困难类型", referrals["by_hardship_type"], "referrals.by_hardship_type",
                   HARDSHIP_TYPES),
        _breakdown("拒绝原因", referrals["rejections_by_reason"], "referrals.rejections_by_reason",
                   REJECTION_REASONS),
        _breakdown("按街道（镇）", referrals["by_street"], "referrals.by_street", None),
        _breakdown(
            "按慈善组织",
            {org: v["referrals"] for org, v in referrals["by_charity"].items()},
            "referrals.by_charity",
            {org: v["name"] for org, v in referrals["by_charity"].items()},
            suffix=".referrals",
        ),
        "<h2>二、帮扶成效</h2>",
        _help_table(help_),
        _chart(
            [(label(HELP_KINDS, k), v["records"]) for k, v in help_["by_kind"].items()],
            "help-kinds",
        ),
        "<h2>三、慈善组织向政府反向转介</h2>",
        _breakdown("按状态", reverse["by_state"], "reverse_referrals.by_state", REVERSE_STATES),
        _breakdown("办理结果", reverse["by_outcome"], "reverse_referrals.by_outcome",
                   _outcome_labels(reverse["by_outcome"])),
        _breakdown("疑似符合的救助类型", reverse["by_suspected_aid"],
                   "reverse_referrals.by_suspected_aid", HARDSHIP_TYPES),
        "<h2>四、慈善项目容量使用</h2>",
        _projects_table(report["projects"]),
        "</body></html>",
    ]  # fmt: skip
    return "\n".join(parts) + "\n"


def _kpi(name: str, value: Any, path: str) -> str:
    return (
        f'<div class="kpi"><div class="value" data-figure="{escape(path)}">'
        f'{escape(format_value(value))}</div><div class="name">{escape(name)}</div></div>'
    )


def _breakdown(
    title: str,
    counts: Mapping[str, Any],
    path: str,
    labels: Mapping[str, str] | None,
    *,
    suffix: str = "",
) -> str:
    if not counts:
        return f"<h3>{escape(title)}</h3><p class='note'>本期无记录。</p>"
    names = {code: (labels.get(code, code) if labels else code) for code in counts}
    rows = "".join(
        f"<tr><td>{escape(names[code] or '未注明')}"
        + (f' <span class="code">{escape(code)}</span>' if labels and code else "")
        + f'</td><td class="num" data-figure="{escape(path + "." + code + suffix)}">'
        f"{escape(format_value(value))}</td></tr>"
        for code, value in counts.items()
    )
    chart = _chart([(names[c] or "未注明", v) for c, v in counts.items()], path)
    return (
        f"<h3>{escape(title)}</h3>{chart}"
        f"<table><tr><th>{escape(title[1:] if title.startswith('按') else '类别')}</th>"
        f"<th>数量</th></tr>{rows}</table>"
    )


def _chart(rows: Sequence[tuple[str, Any]], chart_id: str) -> str:
    """A horizontal bar chart: one bar per row; "<5" hatched at the width of 4."""
    if not rows:
        return ""
    numeric = [THRESHOLD - 1 if v == SUPPRESSED else int(v) for _, v in rows]
    top = max([*numeric, 2 * THRESHOLD])  # so a lone "<5" does not fill the chart
    pattern = "hatch-" + "".join(ch if ch.isalnum() else "-" for ch in chart_id)
    height = ROW_HEIGHT * len(rows) + 8
    width = LABEL_WIDTH + BAR_WIDTH + 70
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}">',
        f'<defs><pattern id="{pattern}" width="6" height="6" patternUnits="userSpaceOnUse" '
        f'patternTransform="rotate(45)"><rect width="3" height="6" fill="{BAR_COLOUR}" '
        'opacity="0.55"/></pattern></defs>',
    ]
    for i, ((name, value), n) in enumerate(zip(rows, numeric, strict=True)):
        y = 4 + i * ROW_HEIGHT
        bar = max(2, round(BAR_WIDTH * n / top)) if n else 0
        fill = f"url(#{pattern})" if value == SUPPRESSED else BAR_COLOUR
        out.append(
            f'<text x="{LABEL_WIDTH - 8}" y="{y + 17}" text-anchor="end">{escape(name)}</text>'
            f'<rect x="{LABEL_WIDTH}" y="{y + 4}" width="{bar}" height="{ROW_HEIGHT - 8}" '
            f'fill="{fill}"><title>{escape(name)}: {escape(format_value(value))}</title></rect>'
            f'<text x="{LABEL_WIDTH + bar + 6}" y="{y + 17}">{escape(format_value(value))}</text>'
        )
    out.append("</svg>")
    return "".join(out)


def _help_table(help_: Mapping[str, Any]) -> str:
    if not help_["by_kind"]:
        return "<p class='note'>本期无帮扶记录。</p>"
    rows = []
    for code, cell in [*help_["by_kind"].items(), ("total", help_["total"])]:
        base = "help.total" if code == "total" else f"help.by_kind.{code}"
        name = "合计" if code == "total" else label(HELP_KINDS, code)
        rows.append(
            f"<tr><td>{escape(name)}</td>"
            + "".join(
                f'<td class="num" data-figure="{escape(base + "." + key)}">'
                f"{escape(format_value(cell[key]))}</td>"
                for key in ("records", "amount_yuan", "hours")
            )
            + "</tr>"
        )
    return (
        "<table><tr><th>帮扶类型</th><th>记录数</th><th>金额（元）</th><th>时长（小时）</th></tr>"
        + "".join(rows)
        + "</table>"
    )


def _projects_table(projects: Sequence[Mapping[str, Any]]) -> str:
    if not projects:
        return "<p class='note'>本期无在办项目。</p>"
    rows = []
    for p in projects:
        base = f"projects.{p['project_id']}"
        cells = "".join(
            f'<td class="num" data-figure="{escape(base + "." + key)}">'
            f"{escape(format_value(p[key]))}</td>"
            for key in ("capacity_total", "capacity_used", "capacity_remaining", "help_records")
        )
        rows.append(
            f"<tr><td>{escape(p['name'])} <span class='code'>{escape(p['project_id'])}</span></td>"
            f"<td>{escape(p.get('org_name', p['org_id']))}</td>{cells}</tr>"
        )
    chart = _chart([(p["name"], p["capacity_used"]) for p in projects], "projects-used")
    return (
        f"{chart}<table><tr><th>项目</th><th>慈善组织</th><th>总名额</th><th>已使用</th>"
        f"<th>剩余</th><th>本期帮扶记录</th></tr>{''.join(rows)}</table>"
    )


def _outcome_labels(outcomes: Mapping[str, Any]) -> dict[str, str]:
    names = {}
    for code in outcomes:
        if code == "opened":
            names[code] = "受理为救助申请"
        else:
            names[code] = "办结未受理（" + code.removeprefix("closed:") + "）"
    return names
