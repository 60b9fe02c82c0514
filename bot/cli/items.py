"""`bot items`, `bot explain`, `bot skip`: what waits for the next digest, why one item is where it is,
and the person's "no" before it posts. Thin commands over bot.pending."""

from __future__ import annotations

from typing import Any

import click

from bot.cli.group import State, cli, emit_json, out, pass_state, say
from bot.core.shorten import middle


@cli.command("items")
@click.option("--limit", type=click.IntRange(1, 500), default=None,
              help="List this many (default 50, or the digest's size if larger; at most 500).")
@click.option("--json", "as_json", is_flag=True, help="Print the ranking as JSON.")
@pass_state
def items_command(state: State, limit: int | None, as_json: bool) -> None:
    """The pending items with their scores, ranked as the next digest would rank them."""
    from rich.table import Table

    from bot.pending import DEFAULT_LIMIT, nothing_stored, ranking

    app = state.app
    if app.config.db.exists():
        board = ranking(app.config, app.store, app.now(), limit or DEFAULT_LIMIT)
    else:  # asking must not make a database
        board = nothing_stored(app.config)
    shown = max(limit or DEFAULT_LIMIT, board.digest_limit)
    if as_json:
        emit_json(board.as_json(shown))
        return
    data = board.as_json(shown)
    if not data["items"]:
        say(state, f"Nothing pending for the next digest ({_window(data)}); `bot poll` fetches new items.")
        return
    table = Table(title=f"Next digest: the top {board.digest_limit} of {board.candidates} pending ({_window(data)})",
                  show_header=True)
    for col, justify in (("#", "right"), ("id", "right"), ("score", "right"), ("kind", "left"),
                         ("source", "left"), ("topics", "left"), ("title", "left")):
        table.add_column(col, justify=justify, overflow="fold")  # type: ignore[arg-type]
    for row in data["items"]:
        table.add_row(str(row["rank"]), str(row["id"]), f"{row['score']:.4f}", row["kind"] or "",
                      ", ".join(row["sources"]), ", ".join(row["topics"]), row["title"] or "",
                      end_section=row["rank"] == board.digest_limit)
    out.print(table)
    if data["more"]:
        say(state, f"{data['more']} more pending below these (`bot items --limit N` shows more).")
    if data["repeats"]:
        say(state, f"Left out as repeats of an item above: {', '.join(str(r['id']) for r in data['repeats'])}.")
    say(state, "`bot explain ID` says why an item is where it is; `bot skip ID` drops it.")


def _window(data: dict[str, Any]) -> str:
    if data["since"] and data["until"]:
        return f"published {data['since'][:10]} to {data['until'][:10]}"
    if data["since"]:
        return f"published since {data['since'][:10]}"
    return "everything not yet digested"


@cli.command("explain")
@click.argument("item")
@click.option("--json", "as_json", is_flag=True, help="Print the explanation as JSON.")
@pass_state
def explain_command(state: State, item: str, as_json: bool) -> None:
    """Why one item is where it is: its identities, matches, topics and each part of its score.

    ITEM is an item id (551, as `bot items` shows) or any spelling of its link. An unknown item exits 1;
    something that is neither an id nor a link exits 2."""
    from bot.pending import explain, no_database, parse_reference

    parse_reference(item)  # a usage mistake is exit 2 whether or not a poll has made the database yet
    app = state.app
    if not app.config.db.exists():
        raise no_database(app.config)
    found = explain(app.config, app.store, app.now(), item)
    data = found.as_json()
    if as_json:
        emit_json(data)
        return
    it = data["item"]
    lines = [f"Item {it['id']}: {it['title']}", f"  link: {it['url'] or '-'}"]
    if it["hn_url"]:
        lines.append(f"  discussion: {it['hn_url']}")
    lines += [f"  sources: {', '.join(it['sources'])}; published {it['published'] or '-'}; "
              f"first seen {it['first_seen']}",
              f"  {data['where']}",
              f"  identities: {', '.join(data['identities']) or '-'}"]
    for m in data["matches"]:
        lines.append(f"  shares {'/'.join(m['rules'])} with {m['owner']} {m['where']}: {m['title'] or ''}")
    score = data["score"]
    parts = score["parts"]
    relevance = score["relevance"] if score["relevance"] is not None else 0.0
    lines.append(f"  relevance {relevance:.3f} (threshold {score['relevance_threshold']:.2f}) from: "
                 f"topics {parts.get('topic_score', 0):.3f}"
                 + (f" ({', '.join(parts.get('topics') or [])}: {', '.join(parts.get('phrases') or [])})"
                    if parts.get("topics") else " (no tracked topic)")
                 + f", library {parts.get('library_similarity', 0):.3f}, taste {parts.get('taste', 0):.3f}"
                 + (f" ({', '.join(parts.get('taste_words') or [])})" if parts.get("taste_words") else ""))
    for similar in parts.get("similar_to") or []:
        lines.append(f"    like library entry {similar['entry']} (cosine {similar['cosine']:.2f}): "
                     f"{middle(similar.get('title') or '', 70)}")
    if parts.get("job_ad"):
        lines.append("    a job ad: relevance 0 whatever it matched")
    lines.append(f"  source score {score['source_score'] or 0:.4f}: signal {parts.get('signal', 0):.3f}, "
                 f"heat {parts.get('heat', 0):.3f}, recency {parts.get('recency', 0):.3f}")
    keep = score["keep"]
    if keep:
        lines.append(f"  digest score {keep['keep']:.5f}: {keep['kind']} items get {keep['kind_share']:.0%} of your "
                     f"keeps; rank {keep['rank_in_kind']} of {keep['offered_of_kind']} {keep['kind']} items offered")
    for line in lines:
        out.print(line, highlight=False, markup=False)


@cli.command("skip")
@click.argument("items", nargs=-1, required=True)
@click.option("--undo", is_flag=True, help="Take a skip back: the items are pending again.")
@click.option("--json", "as_json", is_flag=True, help="Print what was skipped as JSON.")
@pass_state
def skip_command(state: State, items: tuple[str, ...], undo: bool, as_json: bool) -> None:
    """Drop items before the digest posts: your "no", kept, so they are never offered again.

    Each ITEM is an item id or a link. If any is unknown or already went out, nothing is skipped.
    `--undo` takes skips back."""
    from bot.pending import no_database, parse_reference, skip, unskip

    for text in items:  # a usage mistake is exit 2 whether or not a poll has made the database yet
        parse_reference(text)
    app = state.app
    if not app.config.db.exists():
        raise no_database(app.config)
    with app.lock("this skip"):
        results = (unskip(app.store, list(items), app.config.relevance_threshold) if undo
                   else skip(app.store, list(items)))
    if as_json:
        emit_json([r.as_json() for r in results])
        return
    for r in results:
        say(state, f"{r.status[0].upper()}{r.status[1:]}: item {r.id} ({middle(r.title, 80)})")
