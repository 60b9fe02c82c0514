#!/bin/sh
# First start: put a config and the log on the volume, so they outlive the container.
set -e
[ -f /data/bot.toml ] || cp /app/deploy/docker-bot.toml /data/bot.toml
[ -f /data/log.md ] || cp /app/seeds/001_71959d29a843dc8b.txt /data/log.md
exec bot "$@"
