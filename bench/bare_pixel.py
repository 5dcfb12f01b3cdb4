"""The baseline of bench_tracking: a bare Flask app answering the same GIF, recording nothing."""

from flask import Flask, Response

from webapp.api.tracking import NO_CACHE
from webapp.services.tracking import PIXEL

app = Flask("bare_pixel")


@app.get("/api/crm/track/open/<open_id>")
def pixel(open_id: str):
    return Response(PIXEL, mimetype="image/gif", headers=NO_CACHE)
