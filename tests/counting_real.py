"""Run markdown-it-py's parser on a document, counted one way: ``python -m tests.counting_real ref|inst``.

`ref` imports it plainly under the settrace reference, `inst` through the
import hook; each prints every file's line and function counts as JSON.
A fresh interpreter each time, so every module is imported the same way.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from types import FrameType
from typing import Any

from pytest_lcov.counting import CountingFinder
from tests.counting_reference import _Tracer

DOCUMENT = """\
# Title

Some *emphasis*, **strong**, `code`, [link](http://example.com "t") and ![img](a.png).

1. one
2. two
   - nested

> quote

```python
def f(x):
    return x
```

| a | b |
|---|---|
| 1 | 2 |

<div>html</div>

Autolink <https://example.com>, a hard line\
break, &amp; &copy; entities, ``double `tick` code``.
"""


def workload() -> None:
    import markdown_it

    for preset in ("commonmark", "zero"):
        markdown_it.MarkdownIt(preset).enable("table", ignoreInvalid=True).render(DOCUMENT * 3)


def main(mode: str) -> dict[str, Any]:
    spec = importlib.util.find_spec("markdown_it")
    assert spec is not None and spec.origin is not None
    root = os.path.dirname(spec.origin)
    files = sorted(os.path.join(d, f) for d, _, names in os.walk(root) for f in names if f.endswith(".py"))
    if mode == "ref":
        tracers = {name: _Tracer(Path(name).read_text(encoding="utf-8"), name) for name in files}

        def dispatch(frame: FrameType, event: str, arg: Any) -> Any:
            tracer = tracers.get(frame.f_code.co_filename)
            return tracer(frame, event, arg) if tracer else None

        sys.settrace(dispatch)
        try:
            workload()
        finally:
            sys.settrace(None)
        return {
            name: [dict(t.lines), {line: n for (line, _), n in t.function_counts().items()}]
            for name, t in tracers.items()
        }
    finder = CountingFinder(frozenset(files))
    finder.install()
    workload()
    return {
        name: [
            c.cmap.line_counts(c.values),
            {key[0]: c.values[slot] for key, slot in c.cmap.function_keys.items()},
        ]
        for name, c in finder.files.items()
    }


if __name__ == "__main__":
    json.dump(main(sys.argv[1]), sys.stdout)
