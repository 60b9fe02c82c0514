"""Delivery targets, one module each, registered by name (registry): Slack by bot token (slack_token) or
webhook (slack_webhook), both posting message by message (slack) through the one slack_sdk adapter
(slack_api); the markdown log (log); git (git). bot.delivery.builtin registers them."""
