"""Read models built from the ledger's log, and the queries over them. Imports ledger only.

    Projector(ledger)          projections.runner   catch up, rebuild, status (exactly once)
    ProjectionWorker(ledger)   projections.worker   the server's background projector
    Views(ledger)              projections.views    consistent read snapshots
    projections.queries                             incidents, timelines, accountability, tools,
                                                    outputs, blast radius, reliance, gaps
    projections.regulatory_clocks                   reporting deadlines as data
    projections.policy                              the hospital's windows and thresholds

docs/projections.md explains the tables, the rules and the verdicts.
"""
