"""A Textual compositor whose partial updates draw only the changed lines of each widget."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator, Mapping, Sequence
from itertools import pairwise

from textual._compositor import ChopsUpdate, Compositor
from textual.geometry import Region
from textual.strip import Strip


def row_runs(rows: Sequence[int]) -> Iterator[tuple[int, int]]:
    """(first, count) for each run of consecutive numbers in sorted `rows`."""
    start = prev = -2
    for y in rows:
        if y != prev + 1:
            if prev >= 0:
                yield start, prev - start + 1
            start = y
        prev = y
    if prev >= 0:
        yield start, prev - start + 1


class LineCompositor(Compositor):
    """Textual's partial update draws every widget inside the box around all the changed
    regions. A step changes a few lines in every pane, from the status line at the top to
    the source at the bottom, so that box is the whole screen: about 270 lines of a dozen
    widgets drawn (mostly from their caches) for 15 that changed. This one asks each widget
    only for its lines where a changed region crosses it; what reaches the terminal is the
    same spans as before."""

    def render_partial_update(self) -> ChopsUpdate | None:
        update_regions = self._dirty_regions.copy()
        self._dirty_regions.clear()
        if not update_regions:
            return None
        spans = list(self._regions_to_spans(update_regions))
        chops = self._render_spans(spans)
        return ChopsUpdate(chops, spans, [cut_set[1:] for cut_set in self.cuts])

    def _render_spans(self, spans: list[tuple[int, int, int]]) -> Sequence[Mapping[int, Strip]]:
        """The chops of the lines in `spans`, front widget first (as `_render_chops`).

        A widget is asked for a row only where a piece of it in a changed span is not
        covered yet by a widget in front of it (the containers behind the panes are hardly
        ever drawn), and for all its rows in one call (each call has a fixed cost in
        Textual's style cache that is higher than that of a cached line)."""
        cuts = self.cuts
        chops: list[dict[int, Strip | None]] = [dict.fromkeys(cut_set[:-1]) for cut_set in cuts]
        span_rows: dict[int, list[tuple[int, int]]] = {}
        for y, x1, x2 in spans:
            span_rows.setdefault(y, []).append((x1, x2))
        changed_rows = sorted(span_rows)  # a few of the screen's rows
        for widget, (region, clip) in self.visible_widgets.items():
            shown = region.intersection(clip)
            left = shown.x
            first_cut, last_cut = shown.column_span
            wanted: dict[int, list[int]] = {}  # row -> its cuts (the widget's, on that row)
            start = bisect_left(changed_rows, shown.y)
            for y in changed_rows[start : bisect_left(changed_rows, shown.bottom, start)]:
                row_spans = span_rows[y]
                line_cuts = [cut for cut in cuts[y] if last_cut >= cut >= first_cut]
                line = chops[y]
                if any(
                    line.get(cut) is None and any(x1 < end and x2 > cut for x1, x2 in row_spans)
                    for cut, end in pairwise(line_cuts)
                ):
                    wanted[y] = line_cuts
            if not wanted:
                continue
            top, bottom = min(wanted), max(wanted)
            strips = widget.render_lines(
                Region(left - region.x, top - region.y, shown.width, bottom - top + 1)
            )
            for y, strip in zip(range(top, bottom + 1), strips, strict=False):
                row_cuts = wanted.get(y)
                if row_cuts is None:
                    continue
                pieces = strip.divide([cut - left for cut in row_cuts[1:]])
                line = chops[y]
                for cut, piece in zip(row_cuts, pieces, strict=False):
                    if line.get(cut) is None:  # front to back: the first piece wins
                        line[cut] = piece
        return chops  # type: ignore[return-value]
