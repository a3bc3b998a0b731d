#!/usr/bin/python3
"""A supervisor's weekly backlog: overdue work by kind, risk and age band, the riskiest items,
and each officer's load, for one team or the whole force.

    export VIGIL_SERVER=127.0.0.1:7420 VIGIL_PURPOSE="weekly backlog review"
    export VIGIL_ACTOR="Insp Reid" VIGIL_ROLE=supervisor VIGIL_FORCE=wessex   # --auth=dev
    python3 examples/weekly_backlog.py [--team north] [--top 10]

Connection and identity come from the environment as for the vigil CLI (Client.from_env):
VIGIL_TLS_CA, VIGIL_CERT/VIGIL_KEY and VIGIL_TOKEN(_FILE) for a vigild with TLS and tokens."""

import argparse
import collections
import sys
from itertools import islice

from vigil_client import Client, VigilError, v1


AGE_BANDS = {v1.AGE_BAND_0_7_DAYS: "0-7 days", v1.AGE_BAND_8_30_DAYS: "8-30 days",
             v1.AGE_BAND_31_90_DAYS: "31-90 days", v1.AGE_BAND_91_180_DAYS: "91-180 days",
             v1.AGE_BAND_181_365_DAYS: "181-365 days", v1.AGE_BAND_OVER_365_DAYS: "over 365 days"}


def name(enum, number, prefix):
    return enum.Name(number).removeprefix(prefix).lower().replace("_", " ")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--team", default="", help="one team (default: the whole force)")
    parser.add_argument("--top", type=int, default=10, help="riskiest overdue items to list")
    args = parser.parse_args()

    with Client.from_env() as vigil:
        summary = vigil.backlog.GetBacklogSummary(team=args.team)
        scope = f"team {args.team}" if args.team else f"force {summary.force}"
        print(f"Backlog of {scope} as of {summary.as_of.ToJsonString()}: "
              f"{summary.total} overdue of {summary.total_open} open")

        by_kind = collections.defaultdict(collections.Counter)
        for row in summary.rows:
            by_kind[row.kind][row.age_band] += row.count
        print(f"\n{'overdue by':<22}" + "".join(f"{label:>14}" for label in AGE_BANDS.values()))
        for kind, counts in sorted(by_kind.items()):
            print(f"{name(v1.ObligationKind, kind, 'OBLIGATION_KIND_'):<22}"
                  + "".join(f"{counts[band]:>14}" for band in AGE_BANDS))

        print(f"\nRiskiest overdue first (top {args.top}):")
        items = vigil.backlog.ListBacklogItems.items(
            team=args.team, order=v1.BACKLOG_ORDER_RISK_THEN_AGE, page_size=min(args.top, 1000))
        for item in islice(items, args.top):
            o = item.obligation
            risk = name(v1.RiskLevel, o.risk_level, "RISK_LEVEL_")
            print(f"  {item.days_overdue:>5} days  {risk:<12}"
                  f"{name(v1.ObligationKind, o.kind, 'OBLIGATION_KIND_'):<20}{o.subject_id:<16}"
                  f"{o.owner_officer}")

        workload = vigil.backlog.GetWorkload(team=args.team)
        print(f"\nWorkload (policy {workload.policy_version}):")
        for officer in sorted(workload.officers, key=lambda w: -w.overdue):
            print(f"  {officer.officer:<20}{officer.team:<12}{officer.open:>6} open"
                  f"{officer.overdue:>6} overdue{officer.capacity_used_percent:>8.0f}% of capacity")


if __name__ == "__main__":
    try:
        main()
    except VigilError as error:
        sys.exit(f"weekly_backlog: {error}")
