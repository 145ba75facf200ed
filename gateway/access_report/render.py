"""The access report as a JSON document and as a printable HTML page.

The JSON document is the report as the API returns it (times as RFC 3339 in China time, hashes
in base64), so a reader can check every line: hash ``entry_json`` as an RFC 9162 leaf and walk
its ``inclusion`` proof to the root of ``checkpoint``, whose note the gateway signed (and the
witnesses listed cosigned).

The HTML page is one self-contained file: UTF-8, its style inline, no script, no font, image or
link fetched from anywhere, so it prints and opens offline; Chinese renders with the system's
CJK fonts. Every value is HTML-escaped. Each line shows its ledger index and its proof.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from google.protobuf.message import Message

from gateway.access_report.lines import DELETION_ATTESTATION, RELEASE, WITHDRAWAL

_CHINA = timezone(timedelta(hours=8))
_NS = 1_000_000_000

KIND_LABELS = {
    RELEASE: "提供数据 · data released",
    WITHDRAWAL: "撤回同意 · consent withdrawn",
    DELETION_ATTESTATION: "删除证明 · deletion attested",
}
TRANSFORM_LABELS = {
    "TRANSFORM_PLAIN": "原样 plain",
    "TRANSFORM_PSEUDONYMISE": "假名化 pseudonymised",
    "TRANSFORM_GENERALISE": "概括 generalised",
    "TRANSFORM_MASK": "遮蔽 masked",
    "TRANSFORM_SCRUB": "脱敏 scrubbed",
}


def rfc3339_ns(ns: int) -> str:
    """RFC 3339 in China time (where the people and offices are), nanoseconds kept."""
    seconds, nanos = divmod(ns, _NS)
    moment = datetime.fromtimestamp(seconds, tz=UTC).astimezone(_CHINA)
    fraction = f".{nanos:09d}".rstrip("0") if nanos else ""
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + fraction + "+08:00"


def _ns(timestamp: Any) -> int:
    return int(timestamp.seconds) * _NS + int(timestamp.nanos)


def report_document(report: Message) -> dict[str, Any]:
    """An ``aidbridge.v1.AccessReport`` as the JSON document described above."""
    from aidbridge.v1 import common_pb2

    r: Any = report
    checkpoint = r.checkpoint
    return {
        "format": "aidbridge-access-report/v1",
        "subject": r.subject,
        "generated_at": rfc3339_ns(_ns(r.generated_at)),
        "checkpoint": {
            "note": checkpoint.note,
            "tree_size": checkpoint.tree_size,
            "root_hash": checkpoint.root_hash,
            "cosigned_by": list(checkpoint.cosigned_by),
        },
        "lines": [
            {
                "kind": line.kind,
                "index": line.index,
                "at": rfc3339_ns(_ns(line.at)),
                "org": line.org,
                "org_name": line.org_name,
                "actor": line.actor,
                "method": line.method,
                "fields": [
                    {
                        "field": f.field,
                        "transform": common_pb2.Transform.Name(f.transform),
                    }
                    for f in line.fields
                ],
                "consent_id": line.consent_id,
                "consent_version": line.consent_version,
                "purpose": line.purpose,
                "entry_json": line.entry_json,
                "inclusion": (
                    {
                        "index": line.inclusion.index,
                        "tree_size": line.inclusion.tree_size,
                        "hashes": list(line.inclusion.hashes),
                    }
                    if line.HasField("inclusion")
                    else None
                ),
            }
            for line in r.lines
        ],
    }


_STYLE = """
body{font-family:"Noto Sans CJK SC","Noto Sans SC","Source Han Sans SC","PingFang SC",
"Hiragino Sans GB","Microsoft YaHei","WenQuanYi Micro Hei",sans-serif;margin:2em;color:#111}
h1{font-size:1.5em;margin-bottom:.2em}
table{border-collapse:collapse;width:100%;font-size:.9em}
th,td{border:1px solid #999;padding:.35em .5em;vertical-align:top;text-align:left}
th{background:#eee}
.mono{font-family:"Noto Sans Mono CJK SC",Menlo,Consolas,monospace;font-size:.8em;
word-break:break-all}
pre{white-space:pre-wrap;word-break:break-all;background:#f6f6f6;padding:.6em}
.note{color:#444;font-size:.85em}
@media print{details{display:block}details>summary{display:none}}
"""


def report_html(document: Mapping[str, Any]) -> str:
    """The printable page of a report document (``report_document``)."""
    e = html.escape
    lines: Sequence[Mapping[str, Any]] = document["lines"]
    checkpoint = document["checkpoint"]
    rows = "\n".join(_row(line) for line in lines) or (
        '<tr><td colspan="7">账本中没有这个人的数据被提供的记录。'
        "No release of this person's data is recorded in the ledger.</td></tr>"
    )
    cosigners = ", ".join(checkpoint["cosigned_by"]) or "（无 none）"
    return f"""<!DOCTYPE html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>个人数据访问报告 · Access report</title>
<style>{_STYLE}</style>
</head>
<body>
<h1>谁收到了我的数据 · Who received my data</h1>
<p>本报告列出江北区 AidBridge 网关账本中，与此人有关的每一次数据提供、同意撤回和删除证明。
This report lists every release of this person's data, every withdrawal of consent and every
deletion attestation recorded in the AidBridge gateway's ledger.</p>
<p>账本假名 Ledger pseudonym: <span class="mono" id="subject">{e(document["subject"])}</span><br>
生成时间 Generated: {e(document["generated_at"])}<br>
共 {len(lines)} 条 lines: <span id="line-count">{len(lines)}</span></p>
<table>
<thead><tr><th>账本序号<br>Ledger index</th><th>时间<br>When</th><th>事项<br>What</th>
<th>机构<br>Organisation</th><th>字段与处理<br>Fields and transforms</th>
<th>同意书与目的<br>Consent and purpose</th><th>包含证明<br>Inclusion proof</th></tr></thead>
<tbody>
{rows}
</tbody>
</table>
<h2>签名检查点 · Signed checkpoint</h2>
<p class="note">每条记录的包含证明都指向这个检查点的根哈希；检查点由网关签名，并由以下见证方联署：
Each proof leads to this checkpoint's root; the gateway signed it and these witnesses cosigned
it: <span id="cosigned-by">{e(cosigners)}</span></p>
<p>树大小 Tree size: {e(str(checkpoint["tree_size"]))} ·
根哈希 Root: <span class="mono">{e(checkpoint["root_hash"])}</span></p>
<pre class="mono" id="checkpoint-note">{e(checkpoint["note"])}</pre>
<p class="note">核验方法 How to check: SHA-256(0x00 ‖ entry) of a line's ledger entry, combined
with its proof hashes as RFC 9162 §2.1.3.2 says, gives the root above.</p>
</body>
</html>
"""


def _row(line: Mapping[str, Any]) -> str:
    e = html.escape
    fields = (
        "<br>".join(
            f"{e(f['field'])}: {e(TRANSFORM_LABELS.get(f['transform'], f['transform']))}"
            for f in line["fields"]
        )
        or "—"
    )
    org = e(line["org"])
    if line.get("org_name"):
        org = f"{e(line['org_name'])}<br><span class='mono'>{org}</span>"
    consent = (
        f"<span class='mono'>{e(line['consent_id'])}</span> v{e(str(line['consent_version']))}"
        if line["consent_id"]
        else "—"
    )
    if line["purpose"]:
        consent += f"<br>{e(line['purpose'])}"
    inclusion = line.get("inclusion")
    if inclusion:
        hashes = "<br>".join(e(h) for h in inclusion["hashes"]) or "（空 empty: a one-entry tree）"
        proof = (
            f"<details><summary>{len(inclusion['hashes'])} hashes, tree "
            f"{e(str(inclusion['tree_size']))}</summary><div class='mono'>{hashes}</div>"
            f"<div class='mono'>entry: {e(line['entry_json'])}</div></details>"
        )
    else:
        proof = "尚未进入已发布的检查点 not yet in the published checkpoint"
    index = e(str(line["index"])) if line["index"] >= 0 else "—"
    return (
        f'<tr class="line" data-index="{e(str(line["index"]))}" data-kind="{e(line["kind"])}">'
        f"<td>{index}</td><td>{e(line['at'])}</td>"
        f"<td>{e(KIND_LABELS.get(line['kind'], line['kind']))}</td><td>{org}</td>"
        f"<td>{fields}</td><td>{consent}</td><td>{proof}</td></tr>"
    )
