"""Responsible-AI reports on a run's model: fairness (Fairlearn), explanations (InterpretML),
differential privacy (OpenDP) and the model card. Every report is one `ReportDocument`
(`report_document.py`): numbers, tables and Vega-Lite specs that the webview, the CLI and the
self-contained HTML export all render the same way.
"""
