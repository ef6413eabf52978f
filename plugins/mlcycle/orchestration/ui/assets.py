"""Vendored copies of the browser assets GX Data Docs load from public CDNs, and the URL rewrite.

Without internet access a Data Docs page would open unstyled and its index table, drawn by a
script, would stay empty. The plugin serves the copies under ``<prefix>/static/vendor/`` and
rewrites every CDN URL of a page it serves (see ``static/vendor/VENDOR.md``).
"""

from __future__ import annotations

import re
from pathlib import Path

VENDOR_DIR = Path(__file__).parent / "static" / "vendor"

_BOOTSTRAP_TABLE = "https://unpkg.com/bootstrap-table@{v}/dist"
_FILTER_CONTROL = "extensions/filter-control/bootstrap-table-filter-control"

#: CDN URL (as GX's templates write it) -> file under VENDOR_DIR
CDN_MAP: dict[str, str] = {
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "bootstrap/css/bootstrap.min.css",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "bootstrap/js/bootstrap.min.js",
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery/jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": "popper.js/umd/popper.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": "font-awesome/css/all.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css":
        "bootstrap-datepicker/css/bootstrap-datepicker.min.css",
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js":
        "bootstrap-datepicker/js/bootstrap-datepicker.min.js",
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css":
        "bootstrap-dark/css/bootstrap-prefers-dark.min.css",
    f"{_BOOTSTRAP_TABLE.format(v='1.19.1')}/bootstrap-table.min.css": "bootstrap-table/bootstrap-table.min.css",
    f"{_BOOTSTRAP_TABLE.format(v='1.19.1')}/bootstrap-table.min.js": "bootstrap-table/bootstrap-table.min.js",
    f"{_BOOTSTRAP_TABLE.format(v='1.19.1')}/{_FILTER_CONTROL}.min.js": f"bootstrap-table/{_FILTER_CONTROL}.min.js",
    f"{_BOOTSTRAP_TABLE.format(v='1.19.0')}/{_FILTER_CONTROL}.css": f"bootstrap-table/{_FILTER_CONTROL}.min.css",
    f"{_BOOTSTRAP_TABLE.format(v='1.19.0')}/{_FILTER_CONTROL}.min.css": f"bootstrap-table/{_FILTER_CONTROL}.min.css",
    "https://cdn.jsdelivr.net/npm/vega@5": "vega/vega.min.js",
    "https://cdn.jsdelivr.net/npm/vega-lite@5": "vega-lite/vega-lite.min.js",
    "https://cdn.jsdelivr.net/npm/vega-embed@6": "vega-embed/vega-embed.min.js",
}

# longest first, and only inside an attribute value: "vega@5" must not eat "vega@5.x" or "vega-lite@5"
_PATTERN = re.compile("([\"'])(" + "|".join(re.escape(u) for u in sorted(CDN_MAP, key=len, reverse=True)) + ")([\"'])")


# GX's logo comes from its S3 bucket (with the data context id appended); the package ships the same images
_GX_IMAGE = re.compile(r"https://great-expectations-web-assets\.s3\.[a-z0-9-]+\.amazonaws\.com/"
                       r"([A-Za-z0-9_-]+\.(?:png|svg|ico))(?:\?[^\"']*)?")


def gx_images_dir() -> Path | None:
    """The images folder of the installed great_expectations package, found without importing it."""
    import importlib.util

    spec = importlib.util.find_spec("great_expectations")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations))) / "render" / "view" / "static" / "images"


def rewrite_cdn_urls(html: str, vendor_url: str, gx_images_url: str | None = None) -> str:
    """Point every known CDN asset of ``html`` at ``vendor_url/<file>`` (the plugin's vendored copies),
    and GX's hosted images at ``gx_images_url/<file>`` (the package's own copies)."""
    base = vendor_url.rstrip("/")
    html = _PATTERN.sub(lambda m: f"{m[1]}{base}/{CDN_MAP[m[2]]}{m[3]}", html)
    if gx_images_url:
        html = _GX_IMAGE.sub(lambda m: f"{gx_images_url.rstrip('/')}/{m[1]}", html)
    return html
