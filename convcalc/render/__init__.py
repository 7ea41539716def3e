"""Renderers: a report (and the views over it) as text (:mod:`~convcalc.render.text`: tables,
Markdown, JSON), one HTML page (:mod:`~convcalc.render.html`) and diagrams
(:mod:`convcalc.render.draw`). They format; the numbers come from :mod:`convcalc.views`.
"""
