"""The terminal dashboard (Textual). The only package that imports Textual.

:func:`posturebuddy.ui.app.make_app` builds the app over a session factory; ``posturebuddy demo`` and
``posturebuddy run`` use it, and so do the tests (with the simulator, or with a scripted fake session).
"""
