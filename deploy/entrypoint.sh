#!/bin/sh
# First start: put a config and the log on the volume, so they outlive the container.
set -e
APP=/app
DATA=/data
[ -f "$DATA/bot.toml" ] || cp "$APP/deploy/docker-bot.toml" "$DATA/bot.toml"
[ -f "$DATA/log.md" ] || cp "$APP/seeds/001_71959d29a843dc8b.txt" "$DATA/log.md"
# A bot.toml from an earlier image named the whole seeds folder beside the log copied from it, so the
# log was read twice (556 entries where there are 413): that one shipped line, and only it, is replaced
# by the current one.
OLD_PATHS='paths = ["/app/seeds", "/data/log.md"]'
if grep -qxF "$OLD_PATHS" "$DATA/bot.toml"; then
    NEW_PATHS=$(grep -A1 '^paths = ' "$APP/deploy/docker-bot.toml" | tr -d '\n' | sed 's/  */ /g')
    tmp=$(mktemp "$DATA/.bot.toml.XXXXXX")
    awk -v old="$OLD_PATHS" -v new="$NEW_PATHS" '$0 == old { print new; next } { print }' "$DATA/bot.toml" > "$tmp"
    mv "$tmp" "$DATA/bot.toml"
fi
exec bot "$@"
