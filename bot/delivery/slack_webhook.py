"""Slack by incoming webhook (SLACK_WEBHOOK_URL): posts the digest's messages; cannot read the channel, so
a send whose outcome is unknown stays "uncertain" for a person. Used when no bot token is set up."""

from __future__ import annotations

from bot.core.config import Config
from bot.delivery import slack
from bot.delivery.registry import DeliveryTarget

NAME = "slack_webhook"


def through(poster: slack.SlackPoster | None) -> DeliveryTarget:
    """This target posting through `poster` (a test's client, or the one `connect` builds)."""
    return slack.target(NAME, poster, connect)


def connect(config: Config) -> DeliveryTarget | None:
    if not config.slack_webhook_url or (config.slack_bot_token and config.slack_channel):
        return None  # none set up, or the bot token goes instead (it can thread)
    from bot.delivery.slack_api import WebhookPoster  # slack_sdk, loaded only when a digest posts

    return through(WebhookPoster(config.slack_webhook_url, timeout=config.slack_timeout))


TARGET = through(None)
