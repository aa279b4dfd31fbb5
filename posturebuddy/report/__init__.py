"""Rendering of daily and weekly reports (terminal text, self-contained HTML with inline SVG, PNG).

It sits in the session layer (it reads :mod:`posturebuddy.session.history`), never imports the UI, and imports
matplotlib only inside :mod:`posturebuddy.report.png`, which only the ``--png`` option loads.
"""
