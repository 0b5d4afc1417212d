import pyarrow as pa
import pytest

from textcnn import text


def norm(s, lowercase=False):
    return text.normalize([s], lowercase)[0].as_py()


def tokens(s, tokenizer="char", **kw):
    return text.preprocess([s], tokenizer, **kw)[1][0].as_py()


@pytest.mark.parametrize("raw, expected", [
    ("Ｆ１赛车：中国站！", "F1赛车:中国站!"),        # full-width forms to half-width
    ("  a\t\tb\u3000c\r\n ", "a b c"),            # every whitespace kind collapses to one space, trimmed
    ("a\x00b\u200bc\ufeffd", "abcd"),            # control and format characters deleted
    ("①㎏ﬁ", "1kgfi"),                            # compatibility characters (NFKC)
    ("\uf900", "\u8c48"),                          # CJK compatibility ideograph to the unified one
    ("中文\u2028标题", "中文 标题"),                # line separator is whitespace, not a line break
])
def test_normalize(raw, expected):
    assert norm(raw) == expected


def test_lowercase_is_optional():
    assert norm("iPhone ＡＩ") == "iPhone AI"
    assert norm("iPhone ＡＩ", lowercase=True) == "iphone ai"


@pytest.mark.parametrize("lowercase", [False, True])
def test_table_is_idempotent(lowercase):
    table = text.char_table(lowercase)
    for cp, out in table.items():
        assert out.translate(table) == out, hex(cp)


def test_char_tokens_skip_spaces():
    assert tokens("NBA 总决赛 G7") == ["N", "B", "A", "总", "决", "赛", "G", "7"]


def test_whitespace_tokens():
    assert tokens("  deep   learning  rocks ", "whitespace") == ["deep", "learning", "rocks"]


def test_jieba_tokens_and_user_dict(tmp_path):
    from textcnn import segment

    sentence = "大模型推动人工智能产业发展"
    segment.configure(None)
    plain = tokens(sentence, "jieba")
    assert "".join(plain) == sentence and len(plain) > 2
    user_dict = tmp_path / "dict.txt"
    user_dict.write_text("大模型推动 100000 n\n", encoding="utf-8")
    segment.configure(str(user_dict))
    assert tokens(sentence, "jieba")[0] == "大模型推动"


def test_stopwords_are_removed_everywhere_in_the_list():
    got = text.preprocess(["的的中国的队", "的"], "char", stopwords=pa.array(["的"]))[1].to_pylist()
    assert got == [["中", "国", "队"], []]


def test_drop_tokens_keeps_lists_aligned():
    lists = pa.array([["a", "x"], [], ["x"], ["b", "c", "x", "d"]], pa.list_(pa.string()))
    assert text.drop_tokens(lists, pa.array(["x"])).to_pylist() == [["a"], [], [], ["b", "c", "d"]]
