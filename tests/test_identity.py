"""Identity rules (spec section 5), by example and by property."""

from __future__ import annotations

import string

import pytest
from hypothesis import assume, example, given, settings
from hypothesis import strategies as st

from bot.core.identity import (
    Identity,
    arxiv_id_from_url,
    arxiv_ids_in_text,
    canonical_url,
    clean_url,
    doi_from_url,
    hn_id_from_url,
    normalize_title,
    parse_link,
    strip_trailing_junk,
    text_identities,
    title_key,
    titles_fuzzy_equal,
    url_identities,
    with_scheme,
)
from bot.library.matcher import IdentityIndex


@pytest.mark.parametrize(
    "a,b",
    [
        ("https://example.com/a/b", "http://www.example.com/a/b/"),
        ("https://Example.COM/a?b=1&a=2", "https://example.com/a?a=2&b=1"),
        ("https://example.com/post?utm_source=x&utm_medium=rss", "https://example.com/post"),
        ("https://example.com/post?fbclid=abc&gclid=1&ref_src=twsrc", "https://example.com/post"),
        ("https://example.com/post#section-2", "https://example.com/post"),
        ("https://example.com/blog/index.html", "https://example.com/blog/"),
        ("https://youtu.be/wi0M2J4uE5I", "https://www.youtube.com/watch?v=wi0M2J4uE5I&feature=youtu.be"),
        ("www.character.ai", "https://character.ai/"),
        ("https://example.com/a%7Eb", "https://example.com/a~b"),
        ("https://example.com:443/x", "https://example.com/x"),
    ],
)
def test_canonical_url_folds_spellings(a: str, b: str) -> None:
    assert canonical_url(a) == canonical_url(b)


@pytest.mark.parametrize(
    "a,b",
    [
        ("https://example.com/a", "https://example.com/b"),
        ("https://example.com/a?id=1", "https://example.com/a?id=2"),
        ("https://example.com/a", "https://example.org/a"),
        ("https://news.ycombinator.com/item?id=1", "https://news.ycombinator.com/item?id=2"),
    ],
)
def test_canonical_url_keeps_different_things_apart(a: str, b: str) -> None:
    assert canonical_url(a) != canonical_url(b)


@pytest.mark.parametrize("value", ["/gopnik-2023-dalle/", "#top", "mailto:a@b.c", "javascript:alert(1)", "", "  "])
def test_non_http_links_have_no_canonical_form(value: str) -> None:
    assert canonical_url(value) is None


def test_clean_url_drops_only_tracking() -> None:
    assert clean_url("https://example.com/p?id=3&utm_source=hn&ref=x") == "https://example.com/p?id=3"
    assert clean_url("https://example.com/p#frag") == "https://example.com/p#frag"


@pytest.mark.parametrize(
    "url,expected",
    [
        ("https://arxiv.org/abs/2305.14314", "2305.14314"),
        ("https://arxiv.org/abs/2305.14314v2", "2305.14314"),
        ("https://arxiv.org/pdf/2305.14314.pdf", "2305.14314"),
        ("https://arxiv.org/pdf/2305.14314v3", "2305.14314"),
        ("http://export.arxiv.org/abs/2305.14314", "2305.14314"),
        ("https://arxiv.org/html/2305.14314v1", "2305.14314"),
        ("https://www.arxiv.org/abs/1206.3620", "1206.3620"),
        ("https://arxiv.org/abs/hep-th/9901001v2", "hep-th/9901001"),
        ("https://arxiv.org/abs/math.GT/0309136", "math.gt/0309136"),
        ("https://doi.org/10.48550/arXiv.2305.14314", "2305.14314"),
        ("https://example.com/abs/2305.14314", None),
        ("https://arxiv.org/list/cs.CL/recent", None),
    ],
)
def test_arxiv_ids(url: str, expected: str | None) -> None:
    assert arxiv_id_from_url(url) == expected


def test_arxiv_mentions_in_text() -> None:
    assert arxiv_ids_in_text("see arXiv:2305.14314v2 and arXiv:hep-th/9901001.") == {"2305.14314", "hep-th/9901001"}
    assert Identity("arxiv", "2305.14314") in text_identities("doi 10.48550/arXiv.2305.14314")


@pytest.mark.parametrize(
    "url,expected",
    [
        ("https://news.ycombinator.com/item?id=36064568", 36064568),
        ("https://news.ycombinator.com/item?id=36596095&ref=upstract.com", 36596095),
        ("http://news.ycombinator.com/item?p=2&id=42", 42),
        ("https://news.ycombinator.com/user?id=pg", None),
        ("https://example.com/item?id=3", None),
    ],
)
def test_hn_ids(url: str, expected: int | None) -> None:
    assert hn_id_from_url(url) == expected


def test_doi() -> None:
    assert doi_from_url("https://doi.org/10.1145/3595860") == "10.1145/3595860"
    assert doi_from_url("https://example.com/10.1145/3595860") is None


def test_trailing_prose_is_not_part_of_a_link() -> None:
    assert strip_trailing_junk("https://a.com/x).") == "https://a.com/x"
    assert strip_trailing_junk("https://a.com/x'](https://a.com/x") == "https://a.com/x"
    assert strip_trailing_junk("https://en.wikipedia.org/wiki/A_(b)") == "https://en.wikipedia.org/wiki/A_(b)"
    assert strip_trailing_junk("https://www.modular.com/mojo)--a") == "https://www.modular.com/mojo"


def test_title_normalization() -> None:
    assert normalize_title("“Attention Is All You Need”") == "attention is all you need"
    assert normalize_title("  Attention   is all you need. ") == "attention is all you need"
    assert normalize_title("Attention Is All You Need [pdf]") == "attention is all you need"
    assert normalize_title("Attention Is All You Need (2017)") == "attention is all you need"
    assert normalize_title("Café") == normalize_title("CAFE")


@pytest.mark.parametrize(
    "a,b",
    [
        ("Attention Is All You Need", "Atention Is All You Need"),
        ("Language Models are Few-Shot Learners", "Langauge Models are Few-Shot Learners"),
    ],
)
def test_fuzzy_merges_typos(a: str, b: str) -> None:
    assert titles_fuzzy_equal(normalize_title(a), normalize_title(b))


@pytest.mark.parametrize(
    "a,b",
    [
        ("Attention Is All You Need", "Attention Is All You Need for Code"),
        ("Understanding Large Language Models", "Understanding Large Language Models Part 2"),
        ("GPT-4 Technical Report", "GPT-3 Technical Report"),
        ("Language Models are Few-Shot Learners", "Language Models are Zero-Shot Learners"),
        ("Human-Level Control through Deep Reinforcement Learning",
         "Human-Level Control through Deep Reinforcement Learners"),
        ("Perceptrons", "Perceptron"),
    ],
)
def test_fuzzy_keeps_near_misses_apart(a: str, b: str) -> None:
    assert not titles_fuzzy_equal(normalize_title(a), normalize_title(b))


# ---- properties -----------------------------------------------------------------------------------

_seg = st.text(alphabet=string.ascii_lowercase + string.digits + "-_", min_size=1, max_size=12)
_host = st.builds(lambda a, b: f"{a}.{b}", st.text(string.ascii_lowercase, min_size=1, max_size=10),
                  st.sampled_from(["com", "org", "io", "ai", "dev"]))
_path = st.lists(_seg, min_size=0, max_size=4).map(lambda parts: "/" + "/".join(parts))
_params = st.dictionaries(st.text(string.ascii_lowercase, min_size=1, max_size=6).filter(
    lambda k: k not in ("ref", "si", "rss", "via", "share", "spm", "trk", "source", "feature")
    and not k.startswith(("utm", "pk", "mtm", "hsa", "ga"))), _seg, max_size=3)


def _url(scheme: str, www: bool, host: str, path: str, params: dict[str, str]) -> str:
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return f"{scheme}://{'www.' if www else ''}{host}{path}" + (f"?{query}" if query else "")


@given(_host, _path, _params, st.sampled_from(["http", "https"]), st.booleans(),
       st.dictionaries(st.sampled_from(["utm_source", "utm_medium", "fbclid", "gclid", "ref_src"]), _seg),
       st.text(string.ascii_letters, max_size=8), st.booleans())
def test_canonical_url_ignores_noise(host: str, path: str, params: dict[str, str], scheme: str, www: bool,
                                     tracking: dict[str, str], fragment: str, slash: bool) -> None:
    base = canonical_url(_url("https", False, host, path, params))
    noisy_params = dict(reversed(list({**params, **tracking}.items())))
    noisy = _url(scheme, www, host, path + ("/" if slash else ""), noisy_params)
    if fragment:
        noisy += "#" + fragment
    assert canonical_url(noisy) == base


@given(st.integers(1, 9999), st.integers(1, 99999), st.integers(0, 20), st.sampled_from(
    ["https://arxiv.org/abs/{}", "https://arxiv.org/pdf/{}", "https://arxiv.org/pdf/{}.pdf",
     "http://export.arxiv.org/abs/{}", "https://arxiv.org/html/{}", "arXiv:{}"]))
def test_arxiv_id_ignores_form_and_version(yymm: int, number: int, version: int, form: str) -> None:
    ident = f"{yymm:04d}.{number:05d}"
    spelled = ident + (f"v{version}" if version else "")
    ids = {i.value for i in url_identities(form.format(spelled)) | text_identities(form.format(spelled))
           if i.kind == "arxiv"}
    assert ids == {ident}


@given(st.integers(1, 10**9), st.dictionaries(st.sampled_from(["p", "ref", "utm_source", "goto"]), _seg))
def test_hn_id_ignores_extra_parameters(item: int, extra: dict[str, str]) -> None:
    query = "&".join([f"id={item}", *(f"{k}={v}" for k, v in extra.items())])
    assert hn_id_from_url(f"https://news.ycombinator.com/item?{query}") == item


_words = st.lists(st.text(string.ascii_letters, min_size=2, max_size=10), min_size=1, max_size=8)


@given(_words, st.sampled_from(['"{}"', "“{}”", "'{}'", "{}", "  {}  ", "{}."]), st.booleans())
def test_title_normalization_ignores_quotes_and_case(words: list[str], quoting: str, upper: bool) -> None:
    title = " ".join(words)
    spelled = quoting.format(title.upper() if upper else title)
    assert normalize_title(spelled) == normalize_title(title)


@given(_words, st.text(string.ascii_letters, min_size=1, max_size=10))
def test_an_added_word_is_never_a_fuzzy_match(words: list[str], extra: str) -> None:
    a = normalize_title(" ".join(words))
    b = normalize_title(" ".join([*words, extra]))
    assume(a != b)
    assert not titles_fuzzy_equal(a, b)


@given(_words, st.integers(0, 99), st.integers(0, 99))
def test_a_changed_number_is_never_a_fuzzy_match(words: list[str], n: int, m: int) -> None:
    assume(n != m)
    a = normalize_title(" ".join([*words, "part", str(n)]))
    b = normalize_title(" ".join([*words, "part", str(m)]))
    assert not titles_fuzzy_equal(a, b)


@given(_words, st.integers(0, 7), st.text("abcdefgh", min_size=1, max_size=10), st.booleans())
def test_the_index_finds_exactly_the_fuzzy_equal_titles(words: list[str], at: int, word: str, swap: bool) -> None:
    """The index compares only the words that its block keys leave out; it must agree with the rule."""
    a = normalize_title(" ".join(words))
    changed = list(words)
    changed[at % len(changed)] = word
    b = normalize_title(" ".join(changed))
    assume(title_key(a) != title_key(b))
    index = IdentityIndex()
    index.add("entry", 1, [Identity("title", a)])
    match = index.match([Identity("title", b)])
    assert (match is not None and match.rule == "fuzzy_title") == titles_fuzzy_equal(b, a)


# -- no string makes a link helper raise (issue 17: one `http://[oops/llm` lost a whole feed) ----------

_URL_CHARS = string.ascii_letters + string.digits + "[]:@/?#%&=.-_~!$'()*+,; \\\x00\u00e9\ud800\u0660\u00b2"
_urlish = st.builds(
    lambda scheme, body: scheme + body,
    st.sampled_from(["http://", "https://", "HTTP://", "//", "www.", "", "ftp://", "http:", "javascript:"]),
    st.text(alphabet=_URL_CHARS, max_size=40),
)
_HELPERS = [parse_link, clean_url, canonical_url, doi_from_url, hn_id_from_url, arxiv_id_from_url, url_identities,
            strip_trailing_junk]


@settings(max_examples=400)
@given(st.one_of(_urlish, st.text()))
@example("http://[oops/llm")
@example("call http://[your-host]/v1/chat")
@example("http://[your-host]/v1/chat")
@example("https://news.ycombinator.com/item?id=\u0662")
@example("https://example.com:99999/x?utm_source=a")
@example("https://doi.org/10.1/\ud800")
@example("http://a.example/?q=\ud800&utm_source=x")
def test_no_string_makes_a_link_helper_raise(text: str) -> None:
    for helper in _HELPERS:
        helper(text)  # type: ignore[operator]


@given(_urlish)
@example("http:// :")  # the space before the colon was left at the end: a host of one space, then none
@example("https://a.example/x .")
def test_a_cleaned_link_is_still_a_link(text: str) -> None:
    absolute = with_scheme(text)
    assume(absolute is not None and parse_link(absolute) is not None)
    assert absolute is not None and parse_link(clean_url(absolute)) is not None


def test_unparseable_links_are_refused_by_name() -> None:
    for bad in ("http://[oops/llm", "http://[your-host]/v1/chat", "https://x.example:port/", "http:///path",
                "https://a.example/\ud800"):
        assert parse_link(bad) is None, bad
        assert url_identities(bad) == set()
        assert clean_url(bad) == bad
    assert parse_link("https://[::1]:8080/x") is not None


@settings(max_examples=300)
@given(st.one_of(_urlish, st.text()), st.text(max_size=30))
@example("http://[oops/llm", "LLM serving on a budget")
def test_an_item_is_made_with_a_parseable_link_or_refused_as_invalid(link: str, title: str) -> None:
    from bot.core.normalize import InvalidItem, make_item

    try:
        item = make_item(source="t", title=title, url=link, published=None)
    except InvalidItem:
        return
    assert item is None or item.url is None or parse_link(item.url) is not None
