"""A small programming glossary and stop-word lists for Chinese and Japanese queries.

The dictionaries list every sense of a word, and which one a code query means is chosen by
evidence (:mod:`codefind.translation.ranking`): 文件 is "file" rather than "document" because
code says "file". A glossary entry is therefore only needed where no ranking can help, and
each group below states which of these reasons its entries have:

- the dictionary has no entry for the word (标准输入, 迭代器, 装饰器);
- the dictionary has the word but not its programming sense (解析 is only "analyze");
- Taiwan / Hong Kong programming wording the dictionary lacks (函式, 迴圈);
- a compound whose parts mislead (身份验证 is "identity" + "validate").

Entries were written from general programming vocabulary; in issue 17 the glossary was cut
from 708 keys to these, dropping every entry the dictionary's ranked senses already cover,
phrase-shaped keys (的和, 之和, 第一个) and puzzle words (斐波那契, 阶乘) that fitted the
HumanEval-XL queries. Stop words (particles, pronouns, measure words, "how to" filler) are
dropped because they only add noise to a keyword query. Chinese keys are simplified;
traditional queries reach them through CC-CEDICT's traditional -> simplified table. Values
are lower-case English keywords; several words mean "any of these".
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType


def _table(pairs: dict[str, str]) -> Mapping[str, str]:
    return MappingProxyType(pairs)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


ZH_GLOSSARY: Mapping[str, str] = _table(
    {
        # Reason: CC-CEDICT has no entry for the word; each is the usual zh-CN term for the
        # programming concept (the wording of Chinese Python/JavaScript documentation and
        # textbooks). Without an entry, segmentation would fall back to single characters.
        "读入": "read",
        "写入": "write",
        "写出": "write",
        "文件名": "filename",
        "标准输入": "stdin",
        "标准输出": "stdout",
        "子串": "substring",
        "子字符串": "substring",
        "空白字符": "whitespace",
        "换行符": "newline",
        "制表符": "tab",
        "切分": "split",
        "分隔符": "separator delimiter",
        "编码格式": "encoding",
        "ascii码": "ascii",
        "键值对": "key value pair",
        "哈希表": "hash table",
        "子序列": "subsequence",
        "子数组": "subarray",
        "扁平化": "flatten",
        "数据框": "dataframe",
        "布尔值": "boolean bool",
        "最大": "max maximum",
        "最大值": "max maximum",
        "最小": "min minimum",
        "取余": "modulo remainder",
        "取整": "round integer",
        "向上取整": "ceil",
        "向下取整": "floor",
        "去重": "deduplicate unique",
        "二分查找": "binary search",
        "差集": "difference",
        "序列化": "serialize",
        "反序列化": "deserialize",
        "截取": "slice",
        "补齐": "pad",
        "返回值": "return value",
        "迭代器": "iterator",
        "生成器": "generator",
        "装饰器": "decorator",
        "子进程": "subprocess",
        "环境变量": "environment variable",
        "配置文件": "config file",
        "套接字": "socket",
        "坐标轴": "axis",
        "哈希值": "hash",
        # Reason: CC-CEDICT has the word but none of its senses is the programming one
        # (空白 is only "blank space", 解析 only "analyze", 异常 only "unusual"), so no
        # ranking of its senses can find it.
        "空白": "whitespace",
        "换行": "newline",
        "正则": "regex",
        "分割": "split",
        "拆分": "split",
        "图": "graph",
        "数量": "count number",
        "浮点": "float",
        "求和": "sum",
        "逆序": "reverse",
        "聚合": "aggregate",
        "唯一": "unique",
        "交集": "intersection",
        "判断": "check",
        "检查": "check",
        "校验": "validate checksum",
        "转化": "convert",
        "解析": "parse",
        "创建": "create",
        "指定": "specified",
        "当前": "current",
        "调用": "call",
        "异常": "exception",
        "包": "package",
        "异步": "async",
        "同步": "sync",
        "时区": "timezone",
        "毫秒": "millisecond",
        "星期": "weekday",
        "响应": "response",
        "图片": "image",
        "画图": "plot",
        # Reason: Taiwan / Hong Kong programming wording (traditional characters) that
        # CC-CEDICT lacks or gives only a general sense for (檔名, 函式, 迴圈, 回傳...).
        "檔名": "filename",
        "資料表": "table",
        "子字串": "substring",
        "串列": "list",
        "函式": "function",
        "迴圈": "loop",
        "回傳": "return",
        "連結": "link",
        "鏈結串列": "linked list",
        "遞迴": "recursion recursive",
        "正規表示式": "regular expression regex",
        "正規表達式": "regular expression regex",
        "二進位": "binary",
        "十六進位": "hex hexadecimal",
        "雜湊表": "hash table",
        "二元樹": "binary tree",
        "時間戳記": "timestamp",
        "印出": "print",
        "傳回": "return",
        "類別": "class",
        "建立": "create",
        "產生": "generate",
        "套件": "package",
        # Reason: a compound CC-CEDICT lacks whose parts mislead ("identity validate").
        "身份验证": "authenticate",
        "身份認證": "authenticate",
    }
)

ZH_STOP_WORDS: frozenset[str] = _words(
    """
    的 地 得 了 着 过 吗 呢 吧 啊 呀 哦 嘛 啦 之 所 其 该 此 是 为 于 以 而
    这 那 这个 那个 这些 那些 这样 那样 这种 那种 这里 那里 哪 哪个 哪些 哪里
    一个 一些 一下 一种 某 某个 某些 个 们 种 条 件 张 份
    我 你 您 他 她 它 我们 你们 他们 她们 它们 咱们 自己 大家
    请 把 被 将 让 使 给 在 从 向 往 对 对于 关于 为了 由 由于 按 按照 根据 通过 经过
    及 以及 与 并 并且 而且 或 或者 还是 但 但是 然后 然后再 则 就 也 都 还 又 再 才
    很 非常 十分 更 太 已经 正在 应该 需要 必须 可以 能 能够 能否 可否 会 要 想
    里 内
    如何 怎么 怎样 怎么样 怎么办 怎么做 什么 为什么 哪儿 么 呗 用来 用于
    即 等 等等 之类 一般 如下 上述 成 下面 上面 其中 里面
    """
)

JA_GLOSSARY: Mapping[str, str] = _table(
    {
        # files, input and output
        "ファイル": "file",
        "ファイル名": "filename",
        "読み込む": "read load",
        "読み込み": "read load",
        "読込": "read load",
        "読み取る": "read",
        "読み取り": "read",
        "読む": "read",
        "書き込む": "write",
        "書き込み": "write",
        "書き出す": "write export",
        "書き出し": "write export",
        "書く": "write",
        "保存": "save",
        "開く": "open",
        "閉じる": "close",
        "ディレクトリ": "directory",
        "フォルダ": "folder directory",
        "フォルダー": "folder directory",
        "パス": "path",
        "拡張子": "extension",
        "出力": "output print",
        "入力": "input",
        "標準入力": "stdin",
        "標準出力": "stdout",
        "印刷": "print",
        "表示": "display print show",
        "ログ": "log",
        "ダウンロード": "download",
        "アップロード": "upload",
        "削除": "delete remove",
        "除去": "remove",
        "取り除く": "remove",
        "消す": "delete remove",
        "コピー": "copy",
        "複製": "copy",
        "移動": "move",
        "圧縮": "compress",
        "解凍": "decompress extract",
        # text
        "文字列": "string",
        "部分文字列": "substring",
        "文字": "character char",
        "単語": "word",
        "文章": "text sentence",
        "テキスト": "text",
        "行": "line row",
        "列": "column",
        "空白": "whitespace space",
        "スペース": "space",
        "改行": "newline",
        "タブ": "tab",
        "大文字": "uppercase upper",
        "小文字": "lowercase lower",
        "正規表現": "regular expression regex",
        "一致": "match",
        "マッチ": "match",
        "置換": "replace",
        "置き換え": "replace",
        "置き換える": "replace",
        "分割": "split",
        "区切り": "delimiter separator",
        "区切る": "split",
        "結合": "join concatenate merge",
        "連結": "concatenate join",
        "書式": "format",
        "フォーマット": "format",
        "エンコード": "encode",
        "デコード": "decode",
        "文字コード": "encoding",
        "バイト": "byte bytes",
        "二進数": "binary",
        "2進数": "binary",
        "十六進数": "hex hexadecimal",
        "16進数": "hex hexadecimal",
        "十進数": "decimal",
        # data structures
        "辞書": "dict dictionary",
        "辞書型": "dict dictionary",
        "キー": "key",
        "値": "value",
        "リスト": "list",
        "配列": "array",
        "タプル": "tuple",
        "集合": "set",
        "セット": "set",
        "キュー": "queue",
        "スタック": "stack",
        "ノード": "node",
        "要素": "element",
        "項目": "item",
        "長さ": "length",
        "大きさ": "size",
        "サイズ": "size",
        "個数": "count number",
        "件数": "count",
        "回数": "count times",
        "入れ子": "nested",
        "ネスト": "nested",
        "平坦化": "flatten",
        "転置": "transpose",
        "行列": "matrix",
        "ベクトル": "vector",
        "インデックス": "index",
        "添字": "index",
        "データ": "data",
        "データフレーム": "dataframe",
        "データベース": "database",
        "テーブル": "table",
        # numbers and maths
        "整数": "integer int",
        "浮動小数点": "float",
        "浮動小数点数": "float",
        "小数": "decimal float",
        "小数点": "decimal point",
        "数値": "number numeric",
        "数字": "digit number",
        "数": "number",
        "桁": "digit",
        "桁数": "digits",
        "真偽値": "boolean bool",
        "空": "empty",
        "合計": "sum total",
        "総和": "sum",
        "和": "sum",
        "積": "product",
        "平均": "average mean",
        "平均値": "average mean",
        "中央値": "median",
        "分散": "variance",
        "標準偏差": "standard deviation",
        "最大": "max maximum",
        "最大値": "max maximum",
        "最小": "min minimum",
        "最小値": "min minimum",
        "余り": "remainder modulo",
        "絶対値": "absolute value",
        "平方根": "square root sqrt",
        "二乗": "square",
        "累乗": "power",
        "べき乗": "power",
        "階乗": "factorial",
        "素数": "prime",
        "偶数": "even",
        "奇数": "odd",
        "乱数": "random number",
        "ランダム": "random",
        "四捨五入": "round",
        "切り捨て": "floor truncate",
        "切り上げ": "ceil",
        "計算": "calculate compute",
        "数える": "count",
        "カウント": "count",
        # operations
        "並べ替え": "sort",
        "並べ替える": "sort",
        "並び替え": "sort",
        "並び替える": "sort",
        "ソート": "sort",
        "昇順": "ascending",
        "降順": "descending",
        "逆順": "reverse",
        "反転": "reverse invert",
        "検索": "search find",
        "探す": "find search",
        "ループ": "loop",
        "繰り返し": "loop repeat",
        "繰り返す": "repeat iterate",
        "再帰": "recursion recursive",
        "抽出": "extract filter",
        "フィルタ": "filter",
        "フィルター": "filter",
        "絞り込み": "filter",
        "重複": "duplicate",
        "一意": "unique",
        "頻度": "frequency",
        "出現": "occurrence",
        "比較": "compare",
        "等しい": "equal",
        "同じ": "same",
        "違い": "difference",
        "差分": "difference diff",
        "含む": "contains",
        "含まれる": "contains",
        "存在": "exists",
        "判定": "check",
        "確認": "check",
        "検証": "validate",
        "変換": "convert",
        "解析": "parse",
        "パース": "parse",
        "追加": "add append",
        "挿入": "insert",
        "更新": "update",
        "変更": "change modify",
        "設定": "set settings",
        "取得": "get",
        "取り出す": "get extract",
        "作成": "create",
        "生成": "generate create",
        "初期化": "initialize init",
        "マージ": "merge",
        "スライス": "slice",
        "切り出す": "slice extract",
        "先頭": "first head start",
        "末尾": "last end tail",
        "最後": "last",
        "最初": "first",
        "接頭辞": "prefix",
        "接尾辞": "suffix",
        "全て": "all",
        "すべて": "all",
        "各": "each",
        "それぞれ": "each",
        "指定": "specified",
        "現在": "current",
        "結果": "result",
        "内容": "content",
        "中": "in",
        "内": "in",
        # programs and code
        "関数": "function",
        "メソッド": "method",
        "クラス": "class",
        "オブジェクト": "object",
        "インスタンス": "instance",
        "属性": "attribute",
        "引数": "argument parameter",
        "変数": "variable",
        "定数": "constant",
        "戻り値": "return value",
        "返り値": "return value",
        "返す": "return",
        "呼び出す": "call",
        "呼び出し": "call",
        "条件": "condition",
        "例外": "exception",
        "エラー": "error",
        "テスト": "test",
        "モジュール": "module",
        "パッケージ": "package",
        "ライブラリ": "library",
        "インポート": "import",
        "スレッド": "thread",
        "プロセス": "process",
        "非同期": "async",
        "並列": "parallel",
        "コマンド": "command",
        "コマンドライン": "command line",
        "環境変数": "environment variable",
        "型": "type",
        "実行": "run execute",
        # time, web, media
        "日付": "date",
        "日時": "datetime",
        "時刻": "time",
        "時間": "time",
        "タイムスタンプ": "timestamp",
        "タイムゾーン": "timezone",
        "秒": "second seconds",
        "曜日": "weekday",
        "リクエスト": "request",
        "レスポンス": "response",
        "サーバ": "server",
        "サーバー": "server",
        "画像": "image",
        "色": "color",
        "描画": "plot draw",
        "グラフ": "plot graph chart",
        "プロット": "plot",
        "ユーザー": "user",
        "パスワード": "password",
        "暗号化": "encrypt",
        "復号": "decrypt",
    }
)

JA_STOP_WORDS: frozenset[str] = _words(
    """
    は が を に へ で と の も や か な ね よ ぞ さ わ
    から まで より だけ しか ほど など なら ので のに けど けれど けれども ながら
    には では とは への での からの までの との にも でも とも
    について によって により による において における として に対して に対する
    です ます でした ました ません だ である であり た て で い う
    する します した して しない しよう させる させ される され された されている
    できる できます できない ている ていた ておく てある ない たい たら れる られる
    いる いた ある あり あった おり なる なり なった なって くる いく みる
    こと もの ため よう ように ような とき 時 場合 方 やり方 方法 手順
    これ それ あれ どれ この その あの どの ここ そこ どこ こちら そちら
    どう どうやって どうすれば どのように 何 なに なぜ
    ください したい 欲しい ほしい
    """
)


def glossary(language: str) -> Mapping[str, str]:
    """The programming glossary for ``language`` (``"zh"`` or ``"ja"``)."""
    return ZH_GLOSSARY if language == "zh" else JA_GLOSSARY


def stop_words(language: str) -> frozenset[str]:
    """The stop words for ``language`` (``"zh"`` or ``"ja"``)."""
    return ZH_STOP_WORDS if language == "zh" else JA_STOP_WORDS
