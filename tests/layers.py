#!/usr/bin/env python3
"""layers.py: the project's layers, and a check that every #include points down (docs/architecture.md).

    python3 tests/layers.py [ROOT]      exit 0 if every include is allowed and no module cycle exists;
                                        exit 1 naming FILE:LINE and the rule for each one that is not

A folder may include its own headers and those of the folders it builds on, and of theirs, transitively
(LAYERS below, bottom first). Everything else is an error: an upward include (faults/ -> sim/), a sideways
one between parts that must not know each other (services/ -> faults/, sim/ -> services/http/), or a
folder the table does not know. Besides, no two modules (a .c and its .h) may include each other, directly
or through others: a cycle means neither can be read, tested or replaced alone.
"""
import os
import re
import sys

# folder: the folders it builds on directly (bottom first; tests/ may use everything)
LAYERS = {
    'base': [],
    'services/core': ['base'],
    'services': ['services/core'],
    'services/http': ['services'],
    'faults': ['base'],
    'sim/engine': ['base'],
    'sim/net': ['sim/engine', 'faults'],
    'sim/node': ['sim/net', 'services'],
    'sim/load': ['sim/node'],
    'sim/input': ['sim/load'],
    'sim/chaosmesh': ['sim/input'],
    'sim/run': ['sim/chaosmesh'],
    'sim/explore': ['sim/run'],
    'sim/report': ['sim/run'],
    'sim/cli': ['sim/report', 'sim/explore'],
    'lab': ['sim/report', 'services/http'],
    'lab/wire': ['faults'],
}
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def below(folder, seen=None):
    """Every folder `folder` may include, itself excluded."""
    seen = set() if seen is None else seen
    for d in LAYERS[folder]:
        if d not in seen:
            seen.add(d)
            below(d, seen)
    return seen


def sources(root):
    for folder in LAYERS:
        path = os.path.join(root, folder)
        if not os.path.isdir(path):
            continue
        for name in sorted(os.listdir(path)):
            if name.endswith(('.c', '.h')):
                yield folder, os.path.join(folder, name)


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(os.path.abspath(__file__)), '..')
    errors = []
    edges = {}  # module -> modules it includes (a module is a path without .c/.h)
    for folder, rel in sources(root):
        allowed = below(folder) | {folder}
        mod = rel[:-2]
        edges.setdefault(mod, set())
        with open(os.path.join(root, rel), encoding='utf-8', errors='replace') as f:
            for lineno, line in enumerate(f, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                target = m.group(1)
                tfolder = os.path.dirname(target)
                if tfolder not in LAYERS:
                    errors.append('%s:%d: includes "%s": %s is not a layer (tests/layers.py)' %
                                  (rel, lineno, target, tfolder or 'the top folder'))
                elif tfolder not in allowed:
                    errors.append('%s:%d: includes "%s": %s may not include %s (it builds on %s)' %
                                  (rel, lineno, target, folder, tfolder,
                                   ', '.join(sorted(below(folder))) or 'nothing of the project'))
                if target[:-2] != mod:
                    edges[mod].add(target[:-2])
    # module cycles: depth-first search, reporting each cycle once by its path
    state, stack = {}, []

    def visit(m):
        state[m] = 1
        stack.append(m)
        for n in sorted(edges.get(m, ())):
            if state.get(n) == 1:
                errors.append('include cycle: ' + ' -> '.join(stack[stack.index(n):] + [n]))
            elif n in edges and not state.get(n):
                visit(n)
        stack.pop()
        state[m] = 2

    for m in sorted(edges):
        if not state.get(m):
            visit(m)
    for e in errors:
        print(e)
    if errors:
        print('layers: %d include(s) against the layer order (docs/architecture.md)' % len(errors))
        return 1
    print('layers: %d files, every include points down, no cycle' % sum(1 for _ in sources(root)))
    return 0


if __name__ == '__main__':
    sys.exit(main())
