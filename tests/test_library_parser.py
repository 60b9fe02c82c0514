"""The library parser on small documents written here, one per format found in the seeds."""

from __future__ import annotations

import string

from hypothesis import given, settings
from hypothesis import strategies as st

from bot.core.identity import Identity, parse_link
from bot.library.parser import parse_document


def kinds(entries: list) -> set[str]:
    return {i.kind for e in entries for i in e.identities}


def test_dated_log_sections_with_and_without_year() -> None:
    doc = (
        "---\ntitle: Log\n---\n\n## 2023 Log\n"
        "* 3/11 - See this [Hacker News thread](https://news.ycombinator.com/item?id=35100086) about LLaMA\n"
        "\t* This is the [github repo](https://github.com/ggerganov/llama.cpp) with relevant stuff\n"
        "## 27 March 2023\n"
        "* [QLoRA: Efficient Finetuning of Quantized LLMs](https://arxiv.org/abs/2305.14314) and "
        "[HN thread](https://news.ycombinator.com/item?id=36064568)\n"
        "## 30 April\n"
        "* [A Brief History of LLaMA](https://agi-sphere.com/llama-models/)\n"
        "## 01 January 2024\n"
        "* On [HN](https://news.ycombinator.com/item?id=38834244) front page today\n"
    )
    entries = parse_document(doc, "log.md")
    by_line = {e.line: e for e in entries}
    assert by_line[6].date == "2023-03-11"
    assert by_line[7].date == "2023-03-11"  # a sub-bullet inherits its parent's date
    qlora = by_line[9]
    assert qlora.date == "2023-03-27"
    assert qlora.title == "QLoRA: Efficient Finetuning of Quantized LLMs"
    assert {Identity("arxiv", "2305.14314"), Identity("hn", "36064568")} <= qlora.identities
    assert by_line[11].date == "2023-04-30"  # heading without a year takes the year in force
    assert by_line[13].date == "2024-01-01"
    assert all(e.file == "log.md" for e in entries)


def test_plus_lists_and_generic_link_texts() -> None:
    doc = "+ [Attention is all you Need](https://arxiv.org/abs/1706.03762)\n+ [HN thread](https://news.ycombinator.com/item?id=1)\n"
    first, second = parse_document(doc, "list.md")
    assert first.title == "Attention is all you Need"
    assert Identity("title", "attention is all you need") in first.identities
    assert second.title is None  # "HN thread" names the link, not the work
    assert kinds([second]) == {"hn", "url"}


def test_title_by_author_url_lines() -> None:
    doc = (
        "BPE Tokenization Demystified: Implementation and Examples, by MartinLwx. https://martinlwx.github.io/en/the-bpe-tokenizer/\n\n"
        "ChatGPT Is Not a Blurry JPEG of the Web. It's a Simulacrum. By Domenic Denicola. https://blog.domenic.me/chatgpt-simulacrum/\n"
    )
    a, b = parse_document(doc, "book.md")
    assert a.title == "BPE Tokenization Demystified: Implementation and Examples"
    assert a.line == 1 and b.line == 3
    assert b.title == "ChatGPT Is Not a Blurry JPEG of the Web. It's a Simulacrum"


def test_bare_urls_and_scheme_less_and_internal_links() -> None:
    doc = (
        "https://arxiv.org/abs/2307.09793\n"
        "(See also https://blog.esciencecenter.nl/king-man-woman-king-9a7fd2935a85 , referenced from above)\n"
        "* cofounder at [Character.ai](www.character.ai)\n"
        "\t* Adam Gopnik 2023 [article](/gopnik-2023-dalle/)\n"
    )
    bare, see_also, schemeless, internal = parse_document(doc, "x.md")
    assert bare.kind == "bare-url" and Identity("arxiv", "2307.09793") in bare.identities
    assert see_also.urls == ("https://blog.esciencecenter.nl/king-man-woman-king-9a7fd2935a85",)
    assert Identity("url", "character.ai") in schemeless.identities
    assert internal.kind == "internal" and internal.internal_links == ("/gopnik-2023-dalle/",)


def test_mkdocs_admonitions() -> None:
    doc = (
        '??? tip "[Llama 2: Open Foundation and Fine-Tuned Chat Models](https://arxiv.org/abs/2307.09288) A nearly open'
        ' source set of 7B-70B models"\n'
        '    <img width="1393" alt="image" src="https://github.com/ianderrington/genai/assets/1/abc">\n'
        '!!! tip " [Multimodal Neurons](https://arxiv.org/pdf/2308.01544.pdf) "finding neurons"\n'
    )
    adm, img, adm2 = parse_document(doc, "models.md")
    assert adm.kind == "admonition" and adm.title.startswith("Llama 2")
    assert Identity("arxiv", "2307.09288") in adm.identities
    assert img.urls == ("https://github.com/ianderrington/genai/assets/1/abc",) and img.title is None
    assert Identity("arxiv", "2308.01544") in adm2.identities


def test_title_only_lines() -> None:
    doc = (
        "“Computing Machinery and Intelligence” by Alan Turing (1950)\n\n"
        "• “Perceptrons” by Marvin Minsky (1969)\n"
        '• "GPT-4 Technical Report" by OpenAI (2023)\n'
        '\t* "This is true of our search engines, where we have learned how to form good queries."\n'
    )
    entries = parse_document(doc, "papers.txt")
    assert [e.title for e in entries] == ["Computing Machinery and Intelligence", "Perceptrons", "GPT-4 Technical Report"]
    assert all(e.kind == "title-only" and not e.urls for e in entries)
    assert Identity("title", "perceptrons") in entries[1].identities  # one word is enough for a title-only entry


def test_odd_input_never_raises() -> None:
    doc = "## \n* [](\n[unclosed](http://\n\x00\ufeff* 13/45 - nonsense date\n## 31 February 2023\n* [x](https://a.b/c)\n"
    entries = parse_document(doc, "odd.md")
    assert any(e.urls == ("https://a.b/c",) for e in entries)


def test_more_spellings_of_dates_and_titles() -> None:
    doc = (
        "* 2024-02-03 read [Mamba explained](https://mamba.example/)\n"
        "* 3/4/24 - [Another](https://another.example/)\n"
        "- *Deep Learning*, by Ian Goodfellow (2016)\n"
        "1. **Pattern Recognition and Machine Learning** by Christopher Bishop (2006)\n"
        "* [reference][1] with a definition below\n"
        "[1]: https://ref.example/page\n"
        "<https://autolink.example/x>\n"
    )
    entries = parse_document(doc, "misc.md")
    by_title = {e.title: e for e in entries}
    assert by_title["Mamba explained"].date == "2024-02-03"
    assert by_title["Another"].date == "2024-03-04"
    assert by_title["Deep Learning"].kind == "title-only"
    assert by_title["Pattern Recognition and Machine Learning"].kind == "title-only"
    urls = {u for e in entries for u in e.urls}
    assert {"https://ref.example/page", "https://autolink.example/x"} <= urls


_LINK_CHARS = string.ascii_letters + string.digits + "[]:@/?#%&=.-_~()*+, \u00e9\ud800"


@settings(max_examples=300)
@given(st.lists(st.tuples(st.sampled_from(["* ", "+ ", "", "## ", "* [t](", "call "]),
                          st.sampled_from(["http://", "https://", "www.", ""]),
                          st.text(alphabet=_LINK_CHARS, max_size=30)), max_size=6))
def test_no_link_in_a_note_makes_the_parser_raise(lines: list[tuple[str, str, str]]) -> None:
    entries = parse_document("\n".join(a + b + c for a, b, c in lines), "notes.md")
    for e in entries:
        assert all(parse_link(u) is not None for u in e.urls)  # what is stored can always be parsed


def test_a_placeholder_link_is_ignored_and_its_line_kept() -> None:
    doc = "* call http://[your-host]/v1/chat\n* [Local serving guide](http://[your-host]:8080/g) and https://ok.example/x\n"
    first, second = parse_document(doc, "notes.md")
    assert first.ignored_links == ("http://[your-host]/v1/chat",) and first.urls == ()
    assert first.text == "* call http://[your-host]/v1/chat"
    assert second.ignored_links == ("http://[your-host]:8080/g",) and second.urls == ("https://ok.example/x",)
    assert second.title == "Local serving guide"
