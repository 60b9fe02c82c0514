"""Slack by bot token (SLACK_BOT_TOKEN and [slack] channel, chat.postMessage): long digests continue in
the first message's thread, and a send whose outcome is unknown is settled by reading the channel for
its mark (channels:history scope). Preferred to the webhook when both are set up."""

from __future__ import annotations

from bot.core.config import Config
from bot.delivery import slack
from bot.delivery.registry import DeliveryTarget

NAME = "slack_token"


def through(poster: slack.SlackPoster | None) -> DeliveryTarget:
    """This target posting through `poster` (a test's client, or the one `connect` builds)."""
    return slack.target(NAME, poster, connect)


def connect(config: Config) -> DeliveryTarget | None:
    if not (config.slack_bot_token and config.slack_channel):
        return None
    from bot.delivery.slack_api import BotTokenPoster  # slack_sdk, loaded only when a digest posts

    return through(BotTokenPoster(config.slack_bot_token, config.slack_channel, base_url=config.slack_api_url,
                                  timeout=config.slack_timeout))


TARGET = through(None)
