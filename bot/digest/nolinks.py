"""Text that cannot become a link. Pure.

Slack, and many markdown renderers, turn a bare `name.tld` or `name.tld/path` into a link, no scheme
needed. The only links in a digest are the ones the bot builds from stored URLs, so in feed text and
summaries such tokens are either removed (summaries: `strip_domains`) or defanged (titles and
topics: `evil.com/phish` becomes `evil[.]com/phish`, the convention security write-ups use; it reads
the same and no linkifier takes `[.]` for a dot).

A token counts as a domain when a label after its first is a country code or a common generic
top-level domain, or when a path or port follows it; `Node.js` and `e.g.` are left alone.
"""

from __future__ import annotations

import re

# ISO 3166 country codes (from the tz database's iso3166.tab) and the ccTLDs outside that list.
COUNTRY_TLDS = frozenset("""
ad ae af ag ai al am ao aq ar as at au aw ax az ba bb bd be bf bg bh bi bj bl bm bn bo bq br bs bt bv bw
by bz ca cc cd cf cg ch ci ck cl cm cn co cr cu cv cw cx cy cz de dj dk dm do dz ec ee eg eh er es et fi
fj fk fm fo fr ga gb gd ge gf gg gh gi gl gm gn gp gq gr gs gt gu gw gy hk hm hn hr ht hu id ie il im in
io iq ir is it je jm jo jp ke kg kh ki km kn kp kr kw ky kz la lb lc li lk lr ls lt lu lv ly ma mc md me
mf mg mh mk ml mm mn mo mp mq mr ms mt mu mv mw mx my mz na nc ne nf ng ni nl no np nr nu nz om pa pe pf
pg ph pk pl pm pn pr ps pt pw py qa re ro rs ru rw sa sb sc sd se sg sh si sj sk sl sm sn so sr ss st sv
sx sy sz tc td tf tg th tj tk tl tm tn to tr tt tv tw tz ua ug um us uy uz va vc ve vg vi vn vu wf ws ye
yt za zm zw
ac eu su uk
""".split())
GENERIC_TLDS = frozenset("""
com net org edu gov mil int info biz name pro aero coop museum mobi asia tel travel jobs cat xxx
app dev page blog news online site website tech store shop club live cloud xyz top link click zip mov
new art wiki design agency studio space fun icu vip work life world today email solutions network
systems software digital media group host codes tools guru ninja rocks social chat one inc ltd llc
company academy science moe lol wtf ing foo bar run build sale free download review help support
""".split())
# Only a letter or digit joins a token to what is around it: `_evil.com_` (Slack italics) and
# `..evil.com` still link. A port and a path may follow; the path ends at whitespace, a formatting
# mark or bracket, and before the punctuation that ends a sentence.
_PATH_CHAR = r"[^\s*_~`<>|()\[\]\"']"
_PORT_PATH = r"(?::\d{1,5}(?![.\d]))?(?:/(?:" + _PATH_CHAR + r"*(?![.,;:!?])" + _PATH_CHAR + r")?)?"
_DOMAIN_RE = re.compile(
    r"(?<![^\W_])((?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+([a-z]{2,24}))(?![^\W_]|-)(" + _PORT_PATH + ")"
    r"|(?<![^\W_])(\d{1,3}(?:\.\d{1,3}){3})(?![^\W_])(" + _PORT_PATH + ")",
    re.IGNORECASE,
)

_DOTTED_QUAD = re.compile(r"(?:^|\.)\d{1,3}(?:\.\d{1,3}){3}(?:\.|$)")


def _is_domain(match: re.Match[str]) -> bool:
    if match.group(4):  # a dotted-quad address
        return True
    # Any label after the first may be where a linkifier stops: `evil.com.Node.js` links `evil.com`.
    labels = match.group(1).lower().split(".")[1:]
    return (bool(match.group(3)) or any(label in COUNTRY_TLDS or label in GENERIC_TLDS for label in labels)
            or bool(_DOTTED_QUAD.search(match.group(1))))


def has_domain(text: str) -> bool:
    return any(_is_domain(m) for m in _DOMAIN_RE.finditer(text))


def strip_domains(text: str) -> str:
    """`text` without its domain-like tokens (and the paths after them)."""
    return _DOMAIN_RE.sub(lambda m: " " if _is_domain(m) else m.group(0), text)


def defang_domains(text: str) -> str:
    """`text` with each domain-like token's dots written `[.]`, so nothing can link it."""
    def defang(m: re.Match[str]) -> str:
        if not _is_domain(m):
            return m.group(0)
        host, rest = (m.group(4), m.group(5)) if m.group(4) else (m.group(1), m.group(3))
        return host.replace(".", "[.]") + defang_domains(rest or "")  # `bit.ly/x/evil.com`

    return _DOMAIN_RE.sub(defang, text)
