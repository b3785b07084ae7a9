"""The view tables and every statement that writes them: one SQL text for both databases.

Templates name tables by key (``{events}``), column types by kind (``{int}``,
``{float}``) and parameters as ``:name``; projections.db turns them into
SQLite or PostgreSQL (schema-qualified names, ``%(name)s`` parameters).
``@in(column, :param)`` is a list membership test (``json_each`` on SQLite,
``= ANY`` on PostgreSQL).

Statements are assembled from this module's constants only, never from input
(hence the ``noqa: S608`` on the concatenated ones).

Times are integer microseconds since the Unix epoch (UTC). No table holds a
patient reference or free text: ``view_events.facts`` is the event's data
without its sensitive fields (projections.facts.public_data).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

# Table key -> table name. Every view table starts with "view_".
TABLES: Final[dict[str, str]] = {
    "events": "view_events",
    "outputs": "view_outputs",
    "displays": "view_displays",
    "actions": "view_actions",
    "incidents": "view_incidents",
    "incident_outputs": "view_incident_outputs",
}
META_TABLE: Final = "view_projections"
TRACKING_TABLE: Final = "view_tracking"

CREATE: Final[dict[str, str]] = {
    "events": """CREATE TABLE IF NOT EXISTS {events} (
        seq {int} PRIMARY KEY,
        event_id TEXT NOT NULL,
        type TEXT NOT NULL,
        occurred_us {int} NOT NULL,
        effective_us {int} NOT NULL,
        recorded_us {int} NOT NULL,
        actor_id TEXT NOT NULL,
        actor_role TEXT NOT NULL,
        actor_kind TEXT NOT NULL,
        tool_id TEXT,
        output_id TEXT,
        incident_id TEXT,
        clinician_id TEXT,
        remediation_id TEXT,
        outcome TEXT,
        facts TEXT NOT NULL)""",
    "outputs": """CREATE TABLE IF NOT EXISTS {outputs} (
        output_id TEXT PRIMARY KEY,
        seq {int} NOT NULL,
        event_id TEXT NOT NULL,
        tool_id TEXT NOT NULL,
        model_version TEXT NOT NULL,
        site TEXT NOT NULL,
        unit TEXT NOT NULL,
        population TEXT NOT NULL,
        score {float} NOT NULL,
        label TEXT NOT NULL,
        priority TEXT NOT NULL,
        threshold TEXT NOT NULL,
        has_explanation {int} NOT NULL,
        generated_us {int} NOT NULL,
        recorded_us {int} NOT NULL)""",
    "displays": """CREATE TABLE IF NOT EXISTS {displays} (
        seq {int} PRIMARY KEY,
        event_id TEXT NOT NULL,
        output_id TEXT NOT NULL,
        clinician_id TEXT NOT NULL,
        surface TEXT NOT NULL,
        ui_version TEXT,
        shown_us {int} NOT NULL,
        recorded_us {int} NOT NULL)""",
    "actions": """CREATE TABLE IF NOT EXISTS {actions} (
        seq {int} PRIMARY KEY,
        event_id TEXT NOT NULL,
        output_id TEXT NOT NULL,
        clinician_id TEXT NOT NULL,
        action TEXT NOT NULL,
        reason_code TEXT,
        escalated_to TEXT,
        has_comment {int} NOT NULL,
        acted_us {int} NOT NULL,
        recorded_us {int} NOT NULL)""",
    "incidents": """CREATE TABLE IF NOT EXISTS {incidents} (
        incident_id TEXT PRIMARY KEY,
        reported_seq {int},
        reported_event_id TEXT,
        category TEXT,
        harm TEXT,
        tool_id TEXT,
        safety_event_type TEXT,
        serious {int},
        widespread {int},
        aware_us {int},
        reported_us {int},
        class_seq {int},
        class_event_id TEXT,
        class_harm TEXT,
        class_category TEXT,
        class_serious {int},
        class_widespread {int},
        assigned_us {int},
        assigned_seq {int},
        assigned_event_id TEXT,
        external_us {int},
        external_seq {int},
        external_event_id TEXT,
        status TEXT NOT NULL,
        status_rank {int} NOT NULL,
        status_seq {int} NOT NULL,
        status_event_id TEXT NOT NULL,
        status_type TEXT NOT NULL)""",
    "incident_outputs": """CREATE TABLE IF NOT EXISTS {incident_outputs} (
        incident_id TEXT NOT NULL,
        output_id TEXT NOT NULL,
        seq {int} NOT NULL,
        PRIMARY KEY (incident_id, output_id))""",
}

CREATE_META: Final = """CREATE TABLE IF NOT EXISTS {meta} (
    name TEXT PRIMARY KEY,
    version {int} NOT NULL,
    failed_seq {int},
    failed_type TEXT,
    failed_reason TEXT,
    failed_us {int})"""

# The rows of view_events that policies, playbooks and response steps are read from: a partial index
# holds exactly these, and every query for them repeats this clause word for word (so both planners use it).
GOVERNED: Final = "type IN ('governance.policy_set', 'governance.playbook_set', 'incident.response_step')"

# Secondary indexes: built after a rebuild's bulk load (faster), kept current after.
# (name, table, columns, rows indexed). Most events name no incident, no remediation and no
# tool (displays, actions), and only trainings name both a clinician and a tool: those indexes
# hold only the rows a query can ask for (every query on them tests the column with = or IN,
# which both planners take as implying IS NOT NULL), so they cost less to build and keep.
INDEXES: Final[tuple[tuple[str, str, str, str], ...]] = (
    ("view_events_event_id", "events", "event_id", ""),
    ("view_events_tool", "events", "tool_id, type, effective_us", "tool_id IS NOT NULL"),
    ("view_events_output", "events", "output_id", ""),
    ("view_events_incident", "events", "incident_id", "incident_id IS NOT NULL"),
    ("view_events_clinician", "events", "clinician_id, tool_id", "clinician_id IS NOT NULL AND tool_id IS NOT NULL"),
    ("view_events_remediation", "events", "remediation_id", "remediation_id IS NOT NULL"),
    ("view_events_governed", "events", "type, effective_us", GOVERNED),
    ("view_outputs_tool", "outputs", "tool_id, generated_us", ""),
    ("view_outputs_unit", "outputs", "unit, generated_us", ""),
    ("view_displays_output", "displays", "output_id", ""),
    ("view_displays_clinician", "displays", "clinician_id, shown_us", ""),
    ("view_actions_output", "actions", "output_id", ""),
    ("view_actions_clinician", "actions", "clinician_id, acted_us", ""),
    ("view_incidents_aware", "incidents", "aware_us", ""),
    ("view_incident_outputs_output", "incident_outputs", "output_id", ""),
)


@dataclass(frozen=True)
class Statement:
    """A named write: the table it changes and its SQL template.

    ``bulk``: a plain INSERT (perhaps ON CONFLICT DO NOTHING) whose rows do not
    depend on one another, so a batch of them may be sent as one statement.
    """

    table: str
    sql: str
    bulk: bool = False


_STATUS_CASE = "CASE WHEN excluded.status_rank > cur.status_rank THEN excluded.{c} ELSE cur.{c} END"
_STATUS_SET = ", ".join(
    f"{c} = {_STATUS_CASE.format(c=c)}"
    for c in ("status", "status_rank", "status_seq", "status_event_id", "status_type")
)
_FIRST_ASSIGNED = (
    "CASE WHEN cur.assigned_us IS NULL OR excluded.assigned_us < cur.assigned_us THEN excluded.{c} ELSE cur.{c} END"
)
_FIRST_EXTERNAL = (
    "CASE WHEN cur.external_us IS NULL OR excluded.external_us < cur.external_us THEN excluded.{c} ELSE cur.{c} END"
)

STATEMENTS: Final[dict[str, Statement]] = {
    "insert_event": Statement(
        "events",
        """INSERT INTO {events} (seq, event_id, type, occurred_us, effective_us, recorded_us,
            actor_id, actor_role, actor_kind, tool_id, output_id, incident_id, clinician_id,
            remediation_id, outcome, facts)
        VALUES (:seq, :event_id, :type, :occurred_us, :effective_us, :recorded_us,
            :actor_id, :actor_role, :actor_kind, :tool_id, :output_id, :incident_id, :clinician_id,
            :remediation_id, :outcome, :facts)""",
        bulk=True,
    ),
    # The first output.generated of an output_id is the output; later ones stay in view_events.
    "insert_output": Statement(
        "outputs",
        """INSERT INTO {outputs} (output_id, seq, event_id, tool_id, model_version, site, unit,
            population, score, label, priority, threshold, has_explanation, generated_us, recorded_us)
        VALUES (:output_id, :seq, :event_id, :tool_id, :model_version, :site, :unit,
            :population, :score, :label, :priority, :threshold, :has_explanation, :generated_us,
            :recorded_us)
        ON CONFLICT (output_id) DO NOTHING""",
        bulk=True,
    ),
    "insert_display": Statement(
        "displays",
        """INSERT INTO {displays} (seq, event_id, output_id, clinician_id, surface, ui_version,
            shown_us, recorded_us)
        VALUES (:seq, :event_id, :output_id, :clinician_id, :surface, :ui_version, :shown_us,
            :recorded_us)""",
        bulk=True,
    ),
    "insert_action": Statement(
        "actions",
        """INSERT INTO {actions} (seq, event_id, output_id, clinician_id, action, reason_code,
            escalated_to, has_comment, acted_us, recorded_us)
        VALUES (:seq, :event_id, :output_id, :clinician_id, :action, :reason_code, :escalated_to,
            :has_comment, :acted_us, :recorded_us)""",
        bulk=True,
    ),
    # The first incident.reported of an incident_id is its report; a row may already exist
    # when a later event (assignment, classification) was recorded before the report.
    "incident_reported": Statement(
        "incidents",
        """INSERT INTO {incidents} AS cur (incident_id, reported_seq, reported_event_id, category,
            harm, tool_id, safety_event_type, serious, widespread, aware_us, reported_us,
            status, status_rank, status_seq, status_event_id, status_type)
        VALUES (:incident_id, :seq, :event_id, :category, :harm, :tool_id, :safety_event_type,
            :serious, :widespread, :aware_us, :reported_us, 'open', 0, :seq, :event_id, 'incident.reported')
        ON CONFLICT (incident_id) DO UPDATE SET reported_seq = excluded.reported_seq,
            reported_event_id = excluded.reported_event_id, category = excluded.category,
            harm = excluded.harm, tool_id = excluded.tool_id,
            safety_event_type = excluded.safety_event_type, serious = excluded.serious,
            widespread = excluded.widespread, aware_us = excluded.aware_us,
            reported_us = excluded.reported_us
        WHERE cur.reported_seq IS NULL""",
    ),
    # A re-rating is a new event: the latest classification (by seq) holds; fields it leaves
    # out keep the earlier classification's value.
    "incident_classified": Statement(
        "incidents",
        """INSERT INTO {incidents} AS cur (incident_id, class_seq, class_event_id, class_harm,
            class_category, class_serious, class_widespread, status, status_rank, status_seq,
            status_event_id, status_type)
        VALUES (:incident_id, :seq, :event_id, :harm, :category, :serious, :widespread,
            'open', 0, :seq, :event_id, 'incident.classified')
        ON CONFLICT (incident_id) DO UPDATE SET class_seq = excluded.class_seq,
            class_event_id = excluded.class_event_id, class_harm = excluded.class_harm,
            class_category = COALESCE(excluded.class_category, cur.class_category),
            class_serious = COALESCE(excluded.class_serious, cur.class_serious),
            class_widespread = COALESCE(excluded.class_widespread, cur.class_widespread)""",
    ),
    # The first assignment (by when it happened) counts for the 72-hour clock.
    "incident_assigned": Statement(
        "incidents",
        """INSERT INTO {incidents} AS cur (incident_id, assigned_us, assigned_seq, assigned_event_id,
            status, status_rank, status_seq, status_event_id, status_type)
        VALUES (:incident_id, :assigned_us, :seq, :event_id, 'assigned', 1, :seq, :event_id, 'incident.assigned')
        ON CONFLICT (incident_id) DO UPDATE SET """  # noqa: S608
        + ", ".join(f"{c} = {_FIRST_ASSIGNED.format(c=c)}" for c in ("assigned_seq", "assigned_event_id"))
        + f", assigned_us = {_FIRST_ASSIGNED.format(c='assigned_us')}, {_STATUS_SET}",
    ),
    # Status only moves forward: open < assigned < reviewed < closed.
    "incident_status": Statement(
        "incidents",
        """INSERT INTO {incidents} AS cur (incident_id, status, status_rank, status_seq, status_event_id,
            status_type)
        VALUES (:incident_id, :status, :status_rank, :seq, :event_id, :status_type)
        ON CONFLICT (incident_id) DO UPDATE SET """  # noqa: S608
        + _STATUS_SET,
    ),
    "incident_external": Statement(
        "incidents",
        """INSERT INTO {incidents} AS cur (incident_id, external_us, external_seq, external_event_id,
            status, status_rank, status_seq, status_event_id, status_type)
        VALUES (:incident_id, :external_us, :seq, :event_id, 'open', 0, :seq, :event_id,
            'incident.reported_externally')
        ON CONFLICT (incident_id) DO UPDATE SET """  # noqa: S608
        + ", ".join(f"{c} = {_FIRST_EXTERNAL.format(c=c)}" for c in ("external_seq", "external_event_id"))
        + f", external_us = {_FIRST_EXTERNAL.format(c='external_us')}",
    ),
    "incident_output": Statement(
        "incident_outputs",
        """INSERT INTO {incident_outputs} (incident_id, output_id, seq)
        VALUES (:incident_id, :output_id, :seq)
        ON CONFLICT (incident_id, output_id) DO NOTHING""",
    ),
}


_INSERT = re.compile(r"\s*INSERT INTO \{(\w+)\} \(([^)]*)\)\s*VALUES \([^)]*\)(.*)", re.S)
_COLUMN = re.compile(r"^\s*(\w+) (\{int\}|\{float\}|TEXT)", re.M)


def column_kinds(table: str) -> dict[str, str]:
    """Each column of a view table and its type placeholder ({int}, {float} or TEXT)."""
    return dict(_COLUMN.findall(CREATE[table]))


def insert_parts(statement: Statement) -> tuple[str, tuple[str, ...], str]:
    """A bulk statement's table key, its columns, and what follows VALUES (``ON CONFLICT ...``, or nothing)."""
    match = _INSERT.match(statement.sql)
    if not statement.bulk or match is None:
        raise ValueError("only bulk INSERT statements have a bulk form")
    table, column_list, tail = match.groups()
    return table, tuple(c.strip() for c in column_list.split(",")), tail


def unnest_form(statement: Statement) -> tuple[str, tuple[str, ...]]:
    """A bulk statement as one INSERT ... SELECT FROM unnest(arrays) (PostgreSQL), and its columns.

    Each parameter is then a whole column: a list with one value per row.
    """
    table, columns, tail = insert_parts(statement)
    kinds = column_kinds(table)
    arrays = ", ".join(f":{c}::{kinds[c]}[]" for c in columns)
    return f"INSERT INTO {{{table}}} ({', '.join(columns)}) SELECT * FROM unnest({arrays}){tail}", columns  # noqa: S608
