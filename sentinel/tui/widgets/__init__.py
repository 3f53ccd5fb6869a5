"""Widgets: the live table, one table per view, the header line, the chart."""
