"""A search's figures: failed trials sit on the top edge without a made-up value, and the other searched
categorical parameter (a batch size) colours the marks."""

from amal_lightning.studies.figures.canvas import new_figure
from amal_lightning.studies.search.figures import FAILED_ROW, mark, points, y_axis


def rows() -> list[dict[str, str]]:
    trials = [("COMPLETE", "20", "1"), ("COMPLETE", "35", "32"), ("COMPLETE", "5000", "full"), ("FAIL", "", "1")]
    trials += [("FAIL", "", "full"), ("PRUNED", "400", "8")]
    return [
        {
            "trial": str(n),
            "state": state,
            "value": value,
            "param data.batch_size": batch,
            "param lr": str(0.01 * (n + 1)),
        }
        for n, (state, value, batch) in enumerate(trials)
    ]


def test_failed_trials_lie_on_the_top_edge_and_do_not_stretch_the_axis():
    figure, axes = new_figure()
    items = points(rows())
    y_axis(axes, items, "final val/loss")
    mark(axes, [float(row["param lr"]) for row, _ in items], items, by="data.batch_size")
    assert axes.get_yscale() == "log"  # 20 to 5,000: over two decades, from the trials that have a value
    assert axes.get_ylim()[1] < 1e4
    on_top = [line for line in axes.lines if list(line.get_ydata()) == [FAILED_ROW] * len(line.get_ydata())]
    assert sorted(x for line in on_top for x in line.get_xdata()) == [0.04, 0.05]
    assert all(line.get_transform() == axes.get_xaxis_transform() for line in on_top)


def test_the_other_categorical_parameter_colours_the_marks_one_colour_per_choice():
    figure, axes = new_figure()
    items = points(rows())
    handles = mark(
        axes, [float(row["param lr"]) for row, _ in items], items, by="data.batch_size", order=(1, 8, 32, "full")
    )
    labels = [handle.get_label() for handle in handles]
    assert labels[-4:] == ["data.batch_size 1", "data.batch_size 8", "data.batch_size 32", "data.batch_size full"]
    colour_of = {line.get_xdata()[0]: line.get_color() for line in axes.lines}
    assert colour_of[0.01] == colour_of[0.04]  # batch 1, completed and failed
    assert len({colour_of[0.01], colour_of[0.02], colour_of[0.03]}) == 3
