#!/usr/bin/env python3
"""funclen.py: no function outside tests/ is longer than LIMIT lines (docs/architecture.md, "Size").

    python3 tests/funclen.py [ROOT] [LIMIT]   exit 0 if every function of ROOT's .c files (tests/ and
                                              build/ excepted) fits in LIMIT lines (80); exit 1 naming
                                              FILE:LINE, the function and its length for each that does not

A function is counted from the first line of its definition (a line at column 0 that is not a
declaration, a macro or a type) to its closing brace at column 0, the shape .clang-format gives every
definition. EXCEPTIONS names the functions allowed to be longer, each with its reason; it is empty.
"""
import os
import re
import sys

EXCEPTIONS = {}  # 'path/file.c:function': 'why it cannot be split'

DEFINITION = re.compile(r'^(?!typedef|struct\s+\w+\s*\{|enum|union|#|extern)[A-Za-z_][\w \*]*?\b(\w+)\s*\(')


def functions(path):
    """Yields (name, first line, length) for each function definition in one C file."""
    lines = open(path, encoding='utf-8', errors='replace').read().split('\n')
    start = name = None
    for i, line in enumerate(lines):
        if start is None:
            m = DEFINITION.match(line)
            if not m:
                continue
            j = i  # the signature may wrap; it ends at '{' (a definition) or ';' (a declaration)
            while j < len(lines) and not lines[j].rstrip().endswith(('{', ';')):
                j += 1
            if j < len(lines) and lines[j].rstrip().endswith('{') and '=' not in lines[j]:
                start, name = i, m.group(1)
        elif line.startswith('}'):
            yield name, start + 1, i - start + 1
            start = None


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), '..')
    limit = int(sys.argv[2]) if len(sys.argv) > 2 else 80
    bad = checked = 0
    for folder, dirs, files in os.walk(root):
        rel = os.path.relpath(folder, root)
        if rel.split(os.sep)[0] in ('tests', 'build', '.git'):
            dirs[:] = []
            continue
        for f in sorted(files):
            if not f.endswith('.c'):
                continue
            path = os.path.normpath(os.path.join(rel, f))
            for name, line, length in functions(os.path.join(folder, f)):
                checked += 1
                if length > limit and f'{path}:{name}' not in EXCEPTIONS:
                    print(f'{path}:{line}: {name} is {length} lines (at most {limit})')
                    bad += 1
    if bad:
        return 1
    print(f'funclen: {checked} functions, none longer than {limit} lines')
    return 0


if __name__ == '__main__':
    sys.exit(main())
