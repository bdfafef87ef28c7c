"""`claimflow report`: notebooks built from their jupytext sources, parameters injected, bad input refused."""

from __future__ import annotations

import pytest

from orchestration.cli import main as cli
from orchestration.commands.report import NOTEBOOK_SOURCES, build_notebook


@pytest.mark.parametrize("name", sorted(NOTEBOOK_SOURCES))
def test_parameters_are_injected_right_after_the_parameters_cell(name):
    plain = build_notebook(name)
    nb = build_notebook(name, {"claimflow_home": "/some/home"})
    index = next(i for i, c in enumerate(nb.cells) if "parameters" in c.metadata.get("tags", []))
    injected = nb.cells[index + 1]
    assert injected.metadata["tags"] == ["injected-parameters"]
    assert "claimflow_home = '/some/home'" in injected.source
    assert len(nb.cells) == len(plain.cells) + 1
    with pytest.raises(ValueError, match="no parameter nonsense"):
        build_notebook(name, {"nonsense": 1})


@pytest.mark.parametrize("name", sorted(NOTEBOOK_SOURCES))
def test_every_figure_has_a_sentence_next_to_it_and_no_output_is_committed(name):
    nb = build_notebook(name)
    for i, cell in enumerate(nb.cells):
        assert not cell.get("outputs"), "the source carries no outputs"
        if cell.cell_type == "code" and "plt.show()" in cell.source:
            around = [nb.cells[j] for j in (i - 1, i + 1) if 0 <= j < len(nb.cells)]
            assert any(c.cell_type == "markdown" and len(c.source) > 80 for c in around), cell.source[:80]
            assert "source_note(" in cell.source  # and says where its numbers come from


def test_report_refuses_a_home_without_a_warehouse_in_one_line(claimflow_home, capsys):
    assert cli(["report", "roi"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no warehouse" in err
    assert cli(["report", "models", "--out", str(claimflow_home / "m.html")]) == 2
    assert "no warehouse" in capsys.readouterr().err
    assert not claimflow_home.exists()  # refusing writes nothing


def test_report_wants_an_html_file(claimflow_home, capsys):
    assert cli(["report", "roi", "--out", str(claimflow_home / "roi.pdf")]) == 2
    assert "give a .html path" in capsys.readouterr().err
