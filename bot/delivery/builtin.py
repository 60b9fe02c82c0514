"""The built-in delivery targets, registered here through the same call as any other target, in the order
their deliveries go: Slack (the bot token, preferred when set up, else the webhook), the log, then git."""

from bot.delivery import git, log, slack_token, slack_webhook
from bot.delivery.registry import delivery_target, register_target

for _module in (slack_token, slack_webhook, log, git):
    if delivery_target(_module.NAME) is None:
        register_target(_module.TARGET)
