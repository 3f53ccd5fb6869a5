"""Notifications: which routes a finding takes and when they are muted
(routing.py, pure), the outbox (outbox.py: the rows written in a pass's
transaction and their delivery lease) and the channels' senders
(channels.py). The setting they act on: sentinel/notify_config.py."""
