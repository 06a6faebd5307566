"""The web page (`fastnst app`): photos, paintings, the webcam and short videos in a browser.

service.py holds what the page calls, over Stylizers loaded once, and needs nothing beyond fastnst;
inputs.py what a request holds and how pictures are checked; workspace.py the temporary folder it all goes in; page.py builds the page with Gradio (the optional
extra fastnst[app], imported only there) and serves it.
"""

from .inputs import FrameRate, NetworkStyle, PhotoOptions, StyleRequest
from .service import StyleService, page_message
from .workspace import workspace

__all__ = ["FrameRate", "NetworkStyle", "PhotoOptions", "StyleRequest", "StyleService", "page_message", "workspace"]
