"""The static QA gallery (`synthcam gallery`): every job of the plan on one self-contained page.

    build.py    rows and cells from the job store, rendered to gallery/index.html
    thumbs.py   poster frames and contact sheets, remade only when a clip's sha256 changes
    templates/  the Jinja2 page, with its CSS and JS inlined at render time
"""

from .build import GalleryResult, build_gallery, finding_kinds

__all__ = ["GalleryResult", "build_gallery", "finding_kinds"]
