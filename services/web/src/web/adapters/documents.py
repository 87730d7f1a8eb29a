"""Documents the web app makes itself (the services' own reports are theirs): an HTML page
printed to PDF by WeasyPrint (Pango underneath: scripts/ensure-pango.sh)."""

from __future__ import annotations


def pdf(html: str) -> bytes:
    import weasyprint  # imported when a document is made: starting the web app does not pay for it

    return weasyprint.HTML(string=html).write_pdf()  # type: ignore[no-any-return]
