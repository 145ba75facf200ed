"""The periodic linkage report (Jiangbei notice: "report the linkage in time").

``linkage`` computes the figures of one calendar month from the store — referrals by state,
hardship type, street and charity; median times to accept and to complete; help delivered by
kind and amount; reverse referrals and their outcomes; projects' capacity used — with counts
from 1 to 4 shown as "<5" (``suppression``). ``html`` renders them as one self-contained page
with inline SVG charts and Chinese labels (``labels``). ``aidbridge report`` and the
``ReportService`` both call ``build_linkage_report``.
"""
