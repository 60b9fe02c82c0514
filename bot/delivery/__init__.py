"""Delivery targets: a digest posted to Slack (slack), appended to the markdown log (logfile)."""
