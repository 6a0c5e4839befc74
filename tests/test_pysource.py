import tokenize

import pytest

from helpers.pysource import compiles, python_corpus, strip_source

SRC = '''#!/usr/bin/env python
"""Module docstring."""
import os  # a comment with "quotes"

# a whole-line comment
def f(x='#not a comment', y=f"{1 + 2} # no"):
    """Doc."""
    s = 'it''s'  # trailing
    return x + "a # b" + s


class C:
    pass
'''


def test_strip_source_exact():
    out = strip_source(SRC)
    assert "#" not in out
    assert out == (
        '"MSG"\n'
        'import os\n'
        '\n'
        'def f(x="MSG", y="MSG"):\n'
        '    "MSG"\n'
        '    s = "MSG""MSG"\n'
        '    return x + "MSG" + s\n'
        '\n'
        '\n'
        'class C:\n'
        '    pass\n'
    )
    assert compiles(out)


def test_broken_code_raises():
    with pytest.raises((tokenize.TokenError, SyntaxError)):
        strip_source('x = """never closed\n')


def test_folder_corpus_skips_and_counts(tmp_path):
    (tmp_path / "good.py").write_text("def a():\n    return 'x'  # c\n")
    (tmp_path / "bad.py").write_text('s = """unterminated\n')
    (tmp_path / "test").mkdir()
    (tmp_path / "test" / "skipped.py").write_text("x = 1\n")
    text, stats = python_corpus(tmp_path)
    assert text == 'def a():\n    return "MSG"\n'
    assert stats["files"] == 1 and stats["skipped"] == 1 and "bad.py" in stats["skipped_examples"][0]


def test_stdlib_corpus_slice():
    text, stats = python_corpus(max_files=25)
    assert stats["files"] == 25 and stats["skipped"] == 0
    assert "#" not in "".join(line.split('"MSG"')[0] for line in text.splitlines()[:2000])
    assert "def " in text and '"MSG"' in text


def test_compile_filter():
    samples = ["def f(x):\n    return x\n", "def f(x:\n    return", "def g():\n    pass"]
    assert [compiles(s) for s in samples] == [True, False, True]


def test_form_feed_and_other_line_separators():
    """tokenize splits lines at \\n only; offsets must not shift at \\f, \\x1c, ..."""
    src = 'x = 1\n\x0c\ndef f():\n    return "a"  # c\n'
    out = strip_source(src)
    assert out == 'x = 1\n\ndef f():\n    return "MSG"\n'
    assert compiles(out)
    assert strip_source('s = "a\x1cb"  # note\ny = 2\n') == 's = "MSG"\ny = 2\n'
