"""Horizontal bar charts as inline SVG, drawn at render time (no JavaScript, no network).

A chart is a list of groups (one per table row), each with bars from named series (the 2017
reference columns and this run's hardware). Bars can be marked synthetic (hatched), partial
(lighter, dashed outline) or failed (a red mark instead of a bar). Long ranges switch to a log
axis, which the axis title says."""
import math

from markupsafe import Markup, escape

REFERENCE_COLOURS = ["#c7c7c7", "#8c8c8c"]
RUN_COLOURS = ["#1f6fb4", "#d9620b", "#1b9e77", "#7b5ea7", "#c2185b", "#5f8d1e"]

LABEL_W = 270
PLOT_W = 640
VALUE_W = 130
BAR_H = 11
BAR_GAP = 2
GROUP_GAP = 9
TOP = 58
FONT = "font-family:system-ui,-apple-system,'Segoe UI',Roboto,'DejaVu Sans',sans-serif"


def fmt_number(v):
    """A positive figure with 2-3 significant digits: 1234 -> 1234, 12.34 -> 12.3, 1.234 -> 1.23."""
    if v >= 100:
        return "%.0f" % v
    if v >= 10:
        return "%.1f" % v
    return "%.2f" % v


def _nice_step(span, target=5):
    raw = span / float(target)
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


class Scale:
    def __init__(self, values, log=None):
        vals = [v for v in values if v is not None and v > 0]
        self.hi = max(vals) if vals else 1.0
        lo = min(vals) if vals else 1.0
        self.log = (self.hi / lo > 50) if log is None else log
        if self.log:
            self.lo_exp = math.floor(math.log10(lo))
            self.hi_exp = math.ceil(math.log10(self.hi))
            if self.hi_exp == self.lo_exp:
                self.hi_exp += 1
        else:
            self.step = _nice_step(self.hi)
            self.top = self.step * math.ceil(self.hi / self.step)

    def x(self, v):
        if self.log:
            v = max(v, 10 ** self.lo_exp)
            f = (math.log10(v) - self.lo_exp) / float(self.hi_exp - self.lo_exp)
        else:
            f = v / self.top if self.top else 0
        return LABEL_W + f * PLOT_W

    def ticks(self):
        if self.log:
            return [10 ** e for e in range(self.lo_exp, self.hi_exp + 1)]
        n = int(round(self.top / self.step))
        return [i * self.step for i in range(n + 1)]


def _tick_label(v):
    if v >= 1 and float(v).is_integer():
        return "{:,}".format(int(v))
    return ("%g" % v)


def bar_chart(chart_id, title, axis_label, series, groups, log=None):
    """SVG markup. series: [{"label", "kind": "reference"|"run"}]; groups: [{"label",
    "sublabel", "bars": [{"series": i, "value", "synthetic", "partial", "failed", "tip"}]}]."""
    groups = [g for g in groups if g["bars"]]
    scale = Scale([b["value"] for g in groups for b in g["bars"] if b.get("value")], log)
    colours = series_colours(series)
    width = LABEL_W + PLOT_W + VALUE_W
    legend_lines = legend_layout(legend_items(series, colours, groups), width)
    top = TOP + 18 * (len(legend_lines) - 1)
    bg, out, plot_bottom = bars_markup(chart_id, groups, colours, scale, top, width)
    height = plot_bottom + 34
    head = ['<svg xmlns="http://www.w3.org/2000/svg" class="chart" id="%s" role="img" '
            'viewBox="0 0 %d %d" width="%d" height="%d" style="%s">'
            % (chart_id, width, height, width, height, FONT),
            '<title>%s</title>' % escape(title),
            '<defs><pattern id="%s-hatch" patternUnits="userSpaceOnUse" width="6" height="6" '
            'patternTransform="rotate(45)"><line x1="0" y1="0" x2="0" y2="6" stroke="#fff" '
            'stroke-width="2.2"/></pattern></defs>' % chart_id,
            '<text x="0" y="16" font-size="14" font-weight="600" fill="#111">%s</text>'
            % escape(title)]
    head += legend_markup(chart_id, legend_lines)
    axis = axis_markup(scale, axis_label, top, plot_bottom)
    return Markup("\n".join(head + bg + axis + out + ["</svg>"]))


def series_colours(series):
    """One colour per series: greys for 2017's, distinct colours for this run's."""
    colours, ri, ci = [], 0, 0
    for s in series:
        if s["kind"] == "reference":
            colours.append(REFERENCE_COLOURS[ri % len(REFERENCE_COLOURS)])
            ri += 1
        else:
            colours.append(RUN_COLOURS[ci % len(RUN_COLOURS)])
            ci += 1
    return colours


def legend_items(series, colours, groups):
    """[(kind, colour, label)]: the series, then the markings that occur in the bars."""
    bars = [b for g in groups for b in g["bars"]]
    legend = [("swatch", colours[i], s["label"]) for i, s in enumerate(series)]
    if any(b.get("synthetic") for b in bars):
        legend.append(("synthetic", None, "† synthetic data"))
    if any(b.get("partial") for b in bars):
        legend.append(("partial", None, "‡ partial run (fewer epochs or examples)"))
    if any(b.get("failed") for b in bars):
        legend.append(("failed", None, "failed run"))
    return legend


def legend_layout(legend, width):
    """The legend items in lines that fit the width: [[(x, item)]]."""
    legend_lines, line, x = [], [], 0
    for item in legend:
        w = 26 + 7 * len(item[2])
        if line and x + w > width - 20:
            legend_lines.append(line)
            line, x = [], 0
        line.append((x, item))
        x += w + 14
    if line:
        legend_lines.append(line)
    return legend_lines


def bars_markup(chart_id, groups, colours, scale, top, width):
    """(background stripes, group labels and bars, the plot's bottom y)."""
    bg, out = [], []
    y = top
    for gi, g in enumerate(groups):
        gh = len(g["bars"]) * (BAR_H + BAR_GAP) - BAR_GAP
        pad = max(0.0, (26 - gh) / 2.0) if g.get("sublabel") else 0.0  # room for two text lines
        y += pad
        if gi % 2 == 0:
            bg.append('<rect x="0" y="%.1f" width="%d" height="%.1f" fill="#f6f7f9"/>'
                      % (y - pad - GROUP_GAP / 2.0, width, gh + 2 * pad + GROUP_GAP))
        cy = y + gh / 2.0
        out.append('<text x="%d" y="%.1f" font-size="12" text-anchor="end" fill="#222">%s</text>'
                   % (LABEL_W - 10, cy + (0 if g.get("sublabel") else 4), escape(g["label"])))
        if g.get("sublabel"):
            out.append('<text x="%d" y="%.1f" font-size="10" text-anchor="end" fill="#666">%s</text>'
                       % (LABEL_W - 10, cy + 11, escape(g["sublabel"])))
        for b in g["bars"]:
            out += bar_markup(chart_id, b, colours[b["series"]], scale, y)
            y += BAR_H + BAR_GAP
        y += GROUP_GAP + pad
    return bg, out, y - GROUP_GAP / 2.0


def bar_markup(chart_id, b, colour, scale, y):
    """One bar at height y: its rectangle (hatched when synthetic, dashed when partial), value
    and marks, or "✗ failed" when it has no value."""
    tip = escape(b.get("tip") or "")
    if b.get("failed") and not b.get("value"):
        return ['<g class="bar failed"><title>%s</title>'
                '<text x="%d" y="%.1f" font-size="10" fill="#b00020">✗ failed</text></g>'
                % (tip, LABEL_W + 4, y + BAR_H - 2)]
    w = max(scale.x(b["value"]) - LABEL_W, 1.5)
    cls = "bar" + (" synthetic" if b.get("synthetic") else "") + \
        (" partial" if b.get("partial") else "")
    extra = ' stroke="%s" stroke-dasharray="3 2" fill-opacity="0.45"' % colour \
        if b.get("partial") else ""
    out = ['<g class="%s"><title>%s</title><rect x="%d" y="%.1f" width="%.1f" '
           'height="%d" fill="%s"%s/>' % (cls, tip, LABEL_W, y, w, BAR_H, colour, extra)]
    if b.get("synthetic"):
        out.append('<rect x="%d" y="%.1f" width="%.1f" height="%d" fill="url(#%s-hatch)"/>'
                   % (LABEL_W, y, w, BAR_H, chart_id))
    marks = ("†" if b.get("synthetic") else "") + ("‡" if b.get("partial") else "") + \
        (" ✗" if b.get("failed") else "")
    out.append('<text x="%.1f" y="%.1f" font-size="10" fill="#333">%s%s</text></g>'
               % (LABEL_W + w + 4, y + BAR_H - 2, escape(fmt_number(b["value"])), escape(marks)))
    return out


def legend_markup(chart_id, legend_lines):
    """The legend's swatches and labels."""
    head = []
    for li, items in enumerate(legend_lines):
        ly = 34 + 18 * li
        for lx, (kind, colour, label) in items:
            if kind == "swatch":
                head.append('<rect x="%d" y="%d" width="18" height="11" fill="%s"/>'
                            % (lx, ly - 9, colour))
            elif kind == "synthetic":
                head.append('<rect x="%d" y="%d" width="18" height="11" fill="#777"/>'
                            '<rect x="%d" y="%d" width="18" height="11" fill="url(#%s-hatch)"/>'
                            % (lx, ly - 9, lx, ly - 9, chart_id))
            elif kind == "partial":
                head.append('<rect x="%d" y="%d" width="18" height="11" fill="#777" '
                            'fill-opacity="0.45" stroke="#777" stroke-dasharray="3 2"/>'
                            % (lx, ly - 9))
            else:
                head.append('<text x="%d" y="%d" font-size="11" fill="#b00020">✗</text>'
                            % (lx + 4, ly))
            head.append('<text x="%d" y="%d" font-size="11" fill="#333" class="legend">%s</text>'
                        % (lx + 24, ly, escape(label)))
    return head


def axis_markup(scale, axis_label, top, plot_bottom):
    """Grid lines, tick labels, the value axis and its label."""
    axis = []
    for t in scale.ticks():
        tx = scale.x(t)
        axis.append('<line x1="%.1f" y1="%.1f" x2="%.1f" y2="%.1f" stroke="#ddd"/>'
                    % (tx, top - 6, tx, plot_bottom))
        axis.append('<text x="%.1f" y="%.1f" font-size="10" text-anchor="middle" fill="#555">%s'
                    '</text>' % (tx, plot_bottom + 13, escape(_tick_label(t))))
    axis.append('<line x1="%d" y1="%.1f" x2="%d" y2="%.1f" stroke="#999"/>'
                % (LABEL_W, top - 6, LABEL_W, plot_bottom))
    axis.append('<text x="%.1f" y="%.1f" font-size="11" text-anchor="middle" fill="#333">%s%s'
                '</text>' % (LABEL_W + PLOT_W / 2.0, plot_bottom + 28, escape(axis_label),
                             " (log scale)" if scale.log else ""))
    return axis
