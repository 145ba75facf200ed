"""ReportService: the linkage report, for compliance (the whole district) and government
offices (the streets of their jurisdiction, and the reverse referrals sent to them)."""

from __future__ import annotations

import grpc
from sqlalchemy.orm import Session

from aidbridge.v1 import reports_pb2, reports_pb2_grpc
from gateway.exchange import Call
from gateway.report.html import render_html
from gateway.report.linkage import Period, Scope, build_linkage_report, to_json
from gateway.services.base import Servicer


class ReportService(Servicer, reports_pb2_grpc.ReportServiceServicer):
    async def GetLinkageReport(
        self, request: reports_pb2.GetLinkageReportRequest, context: grpc.aio.ServicerContext
    ) -> reports_pb2.LinkageReport:
        return await self.run_read(context, request, self._report)

    def _report(self, session: Session, call: Call) -> reports_pb2.LinkageReport:
        request: reports_pb2.GetLinkageReportRequest = call.request  # type: ignore[assignment]
        period = Period.parse(request.period)
        call.decide(resource={"kind": "none"})
        app = call.app
        scope = Scope()
        if call.caller.role == "government":
            # The policy lets an office ask; what it covers is the registry's jurisdiction.
            org = app.catalogue.org(call.caller.org)
            scope = Scope(streets=org.streets if org else (), offices=(call.caller.org,))
        document = build_linkage_report(
            session,
            period,
            catalogue=app.catalogue,
            cipher=app.cipher,
            scope=scope,
            generated_at_ns=call.now_ns,
        )
        return reports_pb2.LinkageReport(
            period=period.name,
            json=to_json(document),
            html=render_html(document),
            streets=sorted(scope.streets) if scope.streets is not None else [],
        )
