"""The dossier's SVG made fit for a page under the pages' CSP: styles become attributes, ids get the figure's prefix."""

from __future__ import annotations

from api.pages.plots import inline_svg

MATPLOTLIB_LIKE = (
    '<?xml version="1.0"?>\n<svg xmlns:xlink="http://www.w3.org/1999/xlink" width="10pt" height="5pt" '
    'viewBox="0 0 10 5" xmlns="http://www.w3.org/2000/svg" version="1.1">\n<metadata>m</metadata>\n'
    '<defs><style type="text/css">*{stroke-linejoin: round}</style></defs>'
    '<defs><path id="m1" d="M 0 0" style="stroke: #000000; stroke-width: 0.8"/><clipPath id="p2"/></defs>'
    '<use xlink:href="#m1" style="fill: #ffffff"/><g clip-path="url(#p2)"/>'
    "<text style=\"font-size: 10px; font-family: 'DejaVu Sans', sans-serif\">a &lt; b</text></svg>"
)


def test_style_attributes_become_presentation_attributes_and_the_stylesheet_goes() -> None:
    svg = str(inline_svg(MATPLOTLIB_LIKE, ident="f", title="T"))
    assert " style=" not in svg and "<style" not in svg and "<metadata" not in svg
    assert 'stroke="#000000" stroke-width="0.8"' in svg and "font-family=\"'DejaVu Sans', sans-serif\"" in svg
    assert svg.startswith("<svg ") and 'viewBox="0 0 10 5"' in svg and 'width="10pt"' not in svg


def test_every_id_and_every_reference_to_it_get_the_figures_prefix() -> None:
    svg = str(inline_svg(MATPLOTLIB_LIKE, ident="f", title="T"))
    assert 'id="f-m1"' in svg and 'xlink:href="#f-m1"' in svg and 'id="f-p2"' in svg and "url(#f-p2)" in svg


def test_the_figure_is_an_image_labelled_by_its_escaped_title() -> None:
    svg = str(inline_svg(MATPLOTLIB_LIKE, ident="f", title="<b>"))
    assert 'role="img" aria-labelledby="f-title"' in svg and '<title id="f-title">&lt;b&gt;</title>' in svg
    assert "a &lt; b" in svg
