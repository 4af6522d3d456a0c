"""E-mail platforms: engagement exports from Klaviyo and Mailchimp (CSV).

One row per engagement event (received, opened, clicked, unsubscribed ...).
Each row becomes a ``messages`` row with the event type normalised to the
canonical vocabulary (sent, delivered, opened, clicked, unsubscribed, bounced,
spam_complaint, converted); names outside it are kept, in snake_case. The
campaign id is derived from the campaign name (``kl-``/``mc-`` + a hash), and
the campaign's name is loaded into ``campaigns``. An unsubscribe (or a spam
complaint) is also a consent decision: it adds a ``consents`` row (purpose
``email``, or ``sms`` for an SMS unsubscribe; not granted; at the event's time);
an explicit opt-in ("Subscribed to Email Marketing") adds a granted one.
"""

from __future__ import annotations

from regulars.data.ingest.convert import Target
from regulars.data.ingest.values import timestamp_sql
from regulars.data.ingest.options import ParseOptions
from regulars.data.ingest.readers import lit
from regulars.data.presets import register
from regulars.data.presets._common import (
    Header,
    HeaderPreset,
    Layout,
    blank,
    case_map,
    exprs_and_labels,
    first_row_per,
    signature_of,
    snake,
    sql_in,
)

#: Klaviyo metric names -> canonical event types.
KLAVIYO_EVENTS = {
    "received email": "delivered",
    "received sms": "delivered",
    "sent sms": "sent",
    "opened email": "opened",
    "clicked email": "clicked",
    "clicked sms": "clicked",
    "bounced email": "bounced",
    "failed to deliver sms": "bounced",
    "unsubscribed": "unsubscribed",
    "unsubscribed from email marketing": "unsubscribed",
    "unsubscribed from list": "unsubscribed",
    "unsubscribed from sms": "unsubscribed",
    "unsubscribed from sms marketing": "unsubscribed",
    "marked email as spam": "spam_complaint",
    "placed order": "converted",
    "subscribed to email marketing": "subscribed",
    "subscribed to sms marketing": "subscribed",
}

#: Mailchimp activity actions -> canonical event types.
MAILCHIMP_EVENTS = {
    "sent": "sent",
    "send": "sent",
    "delivered": "delivered",
    "open": "opened",
    "opened": "opened",
    "click": "clicked",
    "clicked": "clicked",
    "bounce": "bounced",
    "bounced": "bounced",
    "hard_bounce": "bounced",
    "soft_bounce": "bounced",
    "unsub": "unsubscribed",
    "unsubscribe": "unsubscribed",
    "unsubscribed": "unsubscribed",
    "abuse": "spam_complaint",
    "spam": "spam_complaint",
    "complaint": "spam_complaint",
    "order": "converted",
    "ecomm": "converted",
    "purchase": "converted",
    "subscribe": "subscribed",
    "subscribed": "subscribed",
}

#: Event types that withdraw consent to marketing on the channel.
WITHDRAWS_CONSENT = ("unsubscribed", "spam_complaint")
#: Event types that grant it (an explicit opt-in, not merely being added to a list).
GRANTS_CONSENT = ("subscribed",)

KL_EMAIL = ("Email", "$email", "Email Address", "Profile Email")
KL_EVENT = ("Metric Name", "Event", "Metric", "Event Name")
KL_TIME = ("Timestamp", "Datetime", "Event Date", "Date", "Time")
KL_CAMPAIGN = ("Campaign Name", "$campaign", "Campaign", "Message Name")

MC_EMAIL = ("Email Address", "Email", "email_address")
MC_ACTION = ("Action", "Activity", "Event")
MC_TIME = ("Timestamp", "Time", "Date", "Datetime")
MC_CAMPAIGN = ("Campaign Title", "Campaign Name", "Campaign", "Title")

KLAVIYO_LAYOUT = Layout("messages", "Klaviyo event export", (KL_EMAIL[:2], KL_EVENT[:2], KL_TIME[:2]))
MAILCHIMP_LAYOUT = Layout("messages", "Mailchimp activity export", (("Email Address",), ("Action",), ("Timestamp",)))


def _targets(
    h: Header,
    *,
    vendor: str,
    prefix: str,
    email: str,
    event: str,
    event_type: str,
    channel: str,
    time: str,
    campaign: str | None,
    message_id: str | None = None,
    phone: str | None = None,
) -> list[Target]:
    """Targets from the vendor's column names: messages, campaigns (when the file names
    campaigns) and consents (the rows that grant or withdraw consent)."""
    ev, t = h.col(event), h.col(time)
    camp = h.col(campaign) if campaign else None
    campaign_id = (
        f"CASE WHEN {blank(camp)} IS NOT NULL THEN {lit(prefix)} || left(md5({blank(camp)}), 12) END"
        if camp else None
    )
    who = {
        "email": (h.col(email), h.label(email)),
        "phone": (h.col(phone) if phone else None, h.label(phone) if phone else ""),
    }
    exprs, labels = exprs_and_labels({
        "message_id": (message_id, "event id (message_id)"),
        **who,
        "campaign_id": (campaign_id, f"{h.label(campaign)} (campaign_id)" if campaign else ""),
        "channel": (channel, f"{h.label(event)} (channel)"),
        "event_type": (event_type, f"{h.label(event)} (event_type)"),
        "occurred_at": (t, h.label(time)),
    })
    targets = [Target("messages", exprs, labels)]

    if camp:
        # One row per campaign, from the first row naming it; sent_at = its earliest event.
        first_seen = timestamp_sql(blank(f"r.{t}"), ParseOptions())
        targets.append(Target(
            "campaigns",
            {
                "campaign_id": campaign_id,
                "name": blank(camp),
                "channel": channel,
                "sent_at": f"(SELECT CAST(min({first_seen}) AS VARCHAR) FROM _raw r "
                           f"WHERE {blank('r.' + camp)} = {blank('_raw.' + camp)})",
            },
            {"campaign_id": f"{h.label(campaign)} (campaign_id)", "name": h.label(campaign),
             "channel": f"{h.label(event)} (channel)", "sent_at": f"earliest {h.label(time)} of the campaign"},
            where=first_row_per(camp, across_files=True),
        ))

    cexprs, clabels = exprs_and_labels({
        **who,
        "purpose": (channel, f"{h.label(event)} (purpose)"),
        "is_granted": (sql_in(event_type, GRANTS_CONSENT), f"{h.label(event)} (consent)"),
        "recorded_at": (t, h.label(time)),
        "source": (f"{lit(vendor + ': ')} || {blank(ev)}", "source"),
    })
    decisions = WITHDRAWS_CONSENT + GRANTS_CONSENT
    targets.append(Target("consents", cexprs, clabels, where=sql_in(event_type, decisions)))
    return targets


def _klaviyo(columns: list[str]) -> list[Target]:
    h = Header(columns, "Klaviyo event export")
    event = h.find(*KL_EVENT) or h.need(*KL_EVENT)
    metric = h.col(event)
    is_sms = f"lower({blank(metric)}) LIKE '%sms%'"
    event_id = h.col("Event ID", "$event_id", "event_id")
    return _targets(
        h,
        vendor="klaviyo",
        prefix="kl-",
        email=h.find(*KL_EMAIL) or h.need(*KL_EMAIL),
        phone=h.find("Phone Number", "$phone_number", "Phone"),
        event=event,
        event_type=case_map(metric, KLAVIYO_EVENTS, snake(metric)),
        channel=f"CASE WHEN {is_sms} THEN 'sms' ELSE 'email' END",
        time=h.find(*KL_TIME) or h.need(*KL_TIME),
        campaign=h.find(*KL_CAMPAIGN),
        message_id=f"'kl-' || {blank(event_id)}" if event_id else None,
    )


def _mailchimp(columns: list[str]) -> list[Target]:
    h = Header(columns, "Mailchimp activity export")
    event = h.find(*MC_ACTION) or h.need(*MC_ACTION)
    action = h.col(event)
    return _targets(
        h,
        vendor="mailchimp",
        prefix="mc-",
        email=h.find(*MC_EMAIL) or h.need(*MC_EMAIL),
        event=event,
        event_type=case_map(action, MAILCHIMP_EVENTS, snake(action)),
        channel="'email'",
        time=h.find(*MC_TIME) or h.need(*MC_TIME),
        campaign=h.find(*MC_CAMPAIGN),
    )


KLAVIYO = register(
    HeaderPreset(
        name="klaviyo",
        title="Klaviyo",
        format="csv",
        signature=signature_of(KLAVIYO_LAYOUT),
        builders={"messages": _klaviyo},
        layouts=(KLAVIYO_LAYOUT,),
    )
)

MAILCHIMP = register(
    HeaderPreset(
        name="mailchimp",
        title="Mailchimp",
        format="csv",
        signature=signature_of(MAILCHIMP_LAYOUT),
        builders={"messages": _mailchimp},
        layouts=(MAILCHIMP_LAYOUT,),
    )
)
