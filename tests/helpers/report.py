"""Reading the rendered report back in the tests: its HTML tables (TableParser) and its Markdown
tables (md_tables)."""
import html.parser
import re


class TableParser(html.parser.HTMLParser):
    """Cells of every <table class="results">, keyed by (task, framework group, row label)
    and data-col; text with whitespace collapsed, plus each cell's title attribute."""

    def __init__(self):
        super().__init__()
        self.rows, self.task, self.key, self.col, self.buf = {}, None, None, None, []
        self.group = None
        self.depth_td = 0

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "table" and "results" in (a.get("class") or ""):
            self.task = a.get("data-task")
        elif tag == "tr" and self.task and "data-row" in a:
            if a.get("data-framework") is not None:
                self.group = a["data-framework"]
            label = a["data-row"]
            if a.get("data-source") == "synthetic":
                label += " †"
            if a.get("data-partial") == "partial":
                label += " ‡"
            self.key = (self.task, self.group, label)
            self.rows.setdefault(self.key, {})
        elif tag == "td" and self.key and a.get("data-col"):
            self.col, self.buf = a["data-col"], []
            self.rows[self.key][self.col + ".title"] = a.get("title") or ""

    def handle_endtag(self, tag):
        if tag == "td" and self.col:
            self.rows[self.key][self.col] = re.sub(r"\s+", " ", "".join(self.buf)).strip()
            self.col = None
        elif tag == "table":
            self.task = None

    def handle_data(self, data):
        if self.col:
            self.buf.append(data)


def md_tables(text):
    """{task title: [dict(header -> cell)]} from the Markdown pipe tables."""
    tables, title, header = {}, None, None
    for line in text.splitlines():
        if line.startswith("## "):
            title, header = line[3:].strip(), None
        elif line.startswith("|") and title:
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]]
            if header is None:
                header = cells
                # repeated hardware columns: prefix each with its device group
                seen, current = [], ""
                for h in header:
                    if h.endswith(" s") or h.endswith(" s/1000 img"):
                        current = h.rsplit(" ", 1)[0] if h.endswith(" s") else h[:-len(" s/1000 img")]
                        seen.append(current + " time")
                    elif h in ("img/s", "acc.", "rank") and current:
                        seen.append(current + " " + h)
                    else:
                        seen.append(h)
                header = seen
            elif not set(line) <= set("|-: "):
                tables.setdefault(title, []).append(dict(zip(header, cells)))
    return tables
