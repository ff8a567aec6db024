"""The Flask app: touch UI pages, the JSON API and (in simulated mode) the simulation controls.

``create_app`` takes a ready :class:`kiosk.app.Kiosk`; the app never builds drivers itself.
"""

from __future__ import annotations

from flask import Flask, jsonify


def create_app(kiosk) -> Flask:
    from ui import api, errors, i18n, pages, sim

    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = kiosk.config.get("ui", "max_body_kb") * 1024
    app.config["JSON_SORT_KEYS"] = False
    app.extensions["kiosk"] = kiosk
    app.register_blueprint(api.bp)
    app.register_blueprint(pages.bp)
    if kiosk.devices.simulated_names:
        app.register_blueprint(sim.bp)
    i18n.register(app)
    errors.register(app, i18n.lang)

    @app.get("/healthz")
    def healthz():
        return jsonify({"status": "ok", "kiosk_id": kiosk.config.kiosk_id, "simulated": kiosk.simulated,
                        "schema": kiosk.store.schema_version()})

    @app.after_request
    def headers(resp):
        # The kiosk runs offline behind its own browser; still, no framing and no sniffing.
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        return resp

    return app
