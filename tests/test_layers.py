"""The layers of the tree hold: core imports nothing outside core; stack and io import no napari or Qt;
only plugin does. Checked on the source (every import statement, also those inside functions) and by
importing each layer in a fresh interpreter."""

import ast
import os
import subprocess
import sys

import pytest

SRC = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "src", "napari_zssr")
GUI = ("napari", "qtpy", "PyQt5", "PyQt6", "PySide2", "PySide6", "magicgui", "superqt", "vispy")


def _imports(path):
    """(module imported, level) of every import statement of a file, resolved against its package."""
    pkg = os.path.relpath(os.path.dirname(path), os.path.dirname(SRC)).replace(os.sep, ".")
    out = []
    for node in ast.walk(ast.parse(open(path).read())):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")[: len(pkg.split(".")) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
                out += [name] if node.module else [f"{name}.{a.name}" for a in node.names]
            else:
                out.append(node.module)
    return out


def _files(layer):
    folder = os.path.join(SRC, layer)
    return [os.path.join(folder, f) for f in sorted(os.listdir(folder)) if f.endswith(".py")]


@pytest.mark.parametrize("layer", ["core", "stack", "io"])
def test_no_gui_below_the_plugin(layer):
    for path in _files(layer):
        bad = [m for m in _imports(path) if m.split(".")[0] in GUI]
        assert not bad, f"{os.path.relpath(path, SRC)} imports {bad}"


def test_core_imports_nothing_outside_core():
    for path in _files("core"):
        ours = [m for m in _imports(path) if m.startswith("napari_zssr")]
        outside = [m for m in ours if not m.startswith("napari_zssr.core")]
        assert not outside, f"{os.path.relpath(path, SRC)} imports {outside}"


def test_io_does_not_reach_into_stack_or_plugin():
    for path in _files("io"):
        ours = [m for m in _imports(path) if m.startswith("napari_zssr")]
        bad = [m for m in ours if m.startswith(("napari_zssr.stack", "napari_zssr.plugin"))]
        assert not bad, f"{os.path.relpath(path, SRC)} imports {bad}"


def test_only_the_plugin_and_nothing_else_loads_napari_at_run_time():
    code = ("import sys\n"
            "import napari_zssr, napari_zssr.cli, napari_zssr.io, napari_zssr.stack.upscale, "
            "napari_zssr.stack.runners\n"
            "import napari_zssr.core.lateral, napari_zssr.stack.zssr, napari_zssr.core.progress\n"
            f"bad = sorted(m for m in sys.modules if m.split('.')[0] in {GUI!r})\n"
            "print(','.join(bad))\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "", f"loaded: {res.stdout.strip()}"


def test_progress_and_the_package_import_without_torch():
    code = ("import sys\nimport napari_zssr, napari_zssr.core.progress, napari_zssr.stack.plan, napari_zssr.io\n"
            "print('torch' in sys.modules)\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip() == "False"


def _module_graph(layer: str) -> dict:
    """Which modules of ``layer`` each module imports (every import statement, also inside functions)."""
    prefix = f"napari_zssr.{layer}."
    graph = {}
    for path in _files(layer):
        name = prefix + os.path.basename(path)[:-3]
        graph[name] = {m for m in _imports(path) if m.startswith(prefix) and m != name}
        # "from .x import y" where y is a module of the layer shows as "...layer.y"; keep modules only
        graph[name] = {m if m[len(prefix):].count(".") == 0 else m.rsplit(".", 1)[0] for m in graph[name]}
    return graph


def _cycle(graph: dict):
    """One import circle of ``graph`` as a list of modules, or None."""
    state, stack = {}, []

    def visit(node):
        state[node] = "open"
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == "open":
                return stack[stack.index(nxt):] + [nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        state[node] = "done"
        stack.pop()
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


@pytest.mark.parametrize("layer", ["core", "stack", "io"])
def test_no_import_circles_inside_a_layer(layer):
    found = _cycle(_module_graph(layer))
    assert found is None, " -> ".join(m.rsplit(".", 1)[-1] for m in found)
