"""Feedback for students: one self-contained HTML page per submission.

The page shows each test's name, points and message, never the hidden tests' source.
Everything that came from the student's process is escaped.
"""

from __future__ import annotations

import html
from pathlib import Path

STATUS_TEXT = {
    "passed": "passed",
    "failed": "wrong result",
    "error": "raised an exception",
    "not_implemented": "not implemented yet",
    "missing": "not found",
    "timeout": "too slow (timed out)",
    "memory": "used too much memory",
    "crashed": "the process stopped",
    "forbidden": "used a forbidden routine",
    "grader_error": "could not be checked",
    "not_run": "not graded",
}

_STYLE = """
body { font-family: system-ui, sans-serif; max-width: 60rem; margin: 2rem auto; color: #222 }
table { border-collapse: collapse; width: 100% }
td, th { border-bottom: 1px solid #ddd; padding: .4rem; text-align: left; vertical-align: top }
pre { white-space: pre-wrap; margin: 0; font-size: .85rem }
.passed { color: #176317 } .other { color: #a01010 }
"""


def feedback_html(record: dict) -> str:
    esc = html.escape
    rows = []
    for test in record["tests"]:
        status = test["status"]
        css = "passed" if status == "passed" else "other"
        rows.append(
            f"<tr><td>{esc(test['name'])}</td><td>{esc(str(test['grade_id']))}</td>"
            f"<td>{test['points']:g} / {test['max_points']:g}</td>"
            f"<td class='{css}'>{esc(STATUS_TEXT.get(status, status))}</td>"
            f"<td><pre>{esc(test.get('message', ''))}</pre></td></tr>"
        )
    notes = "".join(f"<li>{esc(note)}</li>" for note in record.get("notes", []))
    notes_html = f"<h2>Notes</h2><ul>{notes}</ul>" if notes else ""
    message = record.get("message") if record["status"] in ("invalid", "not_run") else None
    message_html = f"<p class='other'>{esc(message)}</p>" if message else ""
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{esc(record['assignment'])}: feedback for {esc(record['student'])}</title>"
        f"<style>{_STYLE}</style></head><body>"
        f"<h1>{esc(record['assignment'])}</h1>"
        f"<p>Student: <b>{esc(record['student'])}</b> &middot; "
        f"Score: <b>{record['score']:g} / {record['max_score']:g}</b></p>{message_html}"
        "<table><tr><th>Test</th><th>Cell</th><th>Points</th><th>Outcome</th>"
        f"<th>Message</th></tr>{''.join(rows)}</table>{notes_html}</body></html>\n"
    )


def write_feedback(folder: Path, record: dict) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in record["student"])
    path = folder / f"{safe}.html"
    path.write_text(feedback_html(record), encoding="utf-8")
    return path
