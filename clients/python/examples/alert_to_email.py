#!/usr/bin/python3
"""Turns vigil alert events into e-mails to the rung that must act: here they are printed
instead of sent. Resumes where it stopped (the cursor file), so no alert is mailed twice or
missed across restarts of this script or of vigild.

    export VIGIL_SERVER=127.0.0.1:7420 VIGIL_PURPOSE="alert notifications"
    export VIGIL_ACTOR="alerts-mailer" VIGIL_ROLE=system VIGIL_FORCE=wessex   # --auth=dev
    python3 examples/alert_to_email.py --cursor-file ~/.vigil-mailer.cursor [--min-risk HIGH]

Only what the recipient needs goes in the mail: the obligation, its subject's id, due time and
reason; no names (the recipient looks the subject up in vigil, which audits the access)."""

import argparse
import signal
import sys
from email.message import EmailMessage

from vigil_client import Client, VigilError, v1

# Where each rung's mail goes; a real deployment reads this from the force's directory.
RECIPIENTS = {
    v1.ESCALATION_LEVEL_OFFICER: "{officer}@officers.example.police.uk",
    v1.ESCALATION_LEVEL_SERGEANT: "sergeants.{team}@example.police.uk",
    v1.ESCALATION_LEVEL_INSPECTOR: "inspectors.{team}@example.police.uk",
    v1.ESCALATION_LEVEL_SUPERINTENDENT: "superintendent@example.police.uk",
}
MAILED = {v1.ALERT_EVENT_TYPE_RAISED, v1.ALERT_EVENT_TYPE_ESCALATED, v1.ALERT_EVENT_TYPE_REOPENED}


def mail_for(event):
    alert, o = event.alert, event.alert.obligation
    what = v1.AlertEventType.Name(event.type).removeprefix("ALERT_EVENT_TYPE_").lower()
    kind = v1.ObligationKind.Name(o.kind).removeprefix("OBLIGATION_KIND_").replace("_", " ").lower()
    risk = v1.RiskLevel.Name(o.risk_level).removeprefix("RISK_LEVEL_").replace("_", " ").lower()
    message = EmailMessage()
    to = RECIPIENTS.get(alert.escalation_level, RECIPIENTS[v1.ESCALATION_LEVEL_OFFICER])
    level = v1.EscalationLevel.Name(alert.escalation_level).removeprefix("ESCALATION_LEVEL_")
    message["To"] = to.format(
        officer=o.owner_officer.replace(" ", ".").lower(), team=o.team or "force")
    message["Subject"] = f"[vigil] {what}: {kind} for {o.subject_id} ({risk} risk)"
    message["X-Vigil-Alert"] = f"{alert.id} sequence {event.sequence}"
    message.set_content(
        f"Alert {alert.id} was {what} at "
        f"{level.lower()} level.\n\n"
        f"Obligation: {kind} for {o.subject_id}, owned by {o.owner_officer} ({o.team}).\n"
        f"Due: {o.due_time.ToJsonString()}. {o.reason}\n"
        + (f"{alert.summary}\n" if alert.summary else "")
        + "\nAcknowledge it in vigil (vigil alerts ack) to stop the climb.\n", cte="8bit")
    return message


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cursor-file", required=True,
                        help="where the last mailed sequence is kept")
    parser.add_argument("--min-risk", default="RISK_LEVEL_UNSPECIFIED", type=lambda s: (
        s if s.startswith("RISK_LEVEL_") else "RISK_LEVEL_" + s.upper()))
    parser.add_argument("--team", default="")
    parser.add_argument("--max-events", type=int, default=0, help="stop after this many (0: never)")
    args = parser.parse_args()

    with Client.from_env() as vigil:
        subscription = vigil.subscribe_alerts(
            cursor_file=args.cursor_file,
            filters={"min_risk_level": args.min_risk, "team": args.team},
            on_reconnect=lambda error, attempt, delay: print(
                f"alert_to_email: {error}; reconnecting in {delay:.1f}s", file=sys.stderr))
        signal.signal(signal.SIGTERM, lambda *_: subscription.close())
        handled = 0
        with subscription:
            for event in subscription:
                if event.type in MAILED:
                    print(mail_for(event).as_string(), flush=True)  # smtplib.send_message here
                handled += 1
                if args.max_events and handled >= args.max_events:
                    break


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        pass
    except VigilError as error:
        sys.exit(f"alert_to_email: {error}")
