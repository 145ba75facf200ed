"""Adapters between the gateway and systems outside it: the government monitoring platform
("Yu Yue Jiu Zhu") and spreadsheet imports on the government side, signed webhooks on the
charity side, and peer gateways of other districts. None is built yet (see DESIGN.md,
"Connectors")."""
