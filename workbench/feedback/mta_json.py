"""Decoders for providers that mail their notifications as JSON: Amazon SES through an
SNS e-mail subscription (``{"notificationType": "Bounce", "mail": {...}, ...}``).
"""

from __future__ import annotations

import json
import re

from workbench.feedback.dsn import clean_address
from workbench.feedback.mime import Mail
from workbench.feedback.model import Delivery
from workbench.feedback.rules import RuleSet
from workbench.feedback.smtp import find_status

__all__ = ["amazonses"]

Decoded = tuple[list[Delivery], str]

#: SES bounce subtypes that name the reason themselves
SES_SUBTYPES = {
    "NoEmail": "userunknown",
    "MailboxFull": "mailboxfull",
    "MessageTooLarge": "mesgtoobig",
    "ContentRejected": "contenterror",
    "AttachmentRejected": "contenterror",
    "Suppressed": "suppressed",
    "OnAccountSuppressionList": "suppressed",
    "UnsubscribedRecipient": "suppressed",
}
MAX_JSON = 4 << 20


def _document(body: str) -> dict[str, object] | None:
    body = body.replace("!\n ", "")  # SNS e-mail wraps long lines with "!" + newline + space
    start = body.find("{")
    head = body[start: start + 200]
    if start < 0 or ('"notificationType"' not in head and '"eventType"' not in head):
        return None
    end = body.rfind("}")
    try:
        doc = json.loads(body[start: end + 1][:MAX_JSON])
    except ValueError:
        # an SNS footer or a wrapped line may follow: take the first balanced object
        depth = 0
        for at, char in enumerate(body[start: start + MAX_JSON], start):
            depth += (char == "{") - (char == "}")
            if depth == 0:
                try:
                    doc = json.loads(body[start: at + 1])
                except ValueError:
                    return None
                break
        else:
            return None
    return doc if isinstance(doc, dict) else None


def _original(mail_obj: dict[str, object]) -> str:
    lines = []
    headers = mail_obj.get("headers")
    if isinstance(headers, list):
        for item in headers:
            if isinstance(item, dict) and "name" in item:
                lines.append(f"{item['name']}: {item.get('value', '')}")
    if mail_obj.get("messageId") and not any(line.lower().startswith("message-id:") for line in lines):
        lines.append(f"X-SES-Message-ID: {mail_obj['messageId']}")
    return "\n".join(lines) + "\n\n"


def amazonses(mail: Mail, rules: RuleSet) -> Decoded | None:
    """An Amazon SES notification mailed as JSON (bounce, complaint or delivery)."""
    doc = _document(mail.body)
    if doc is None:
        return None
    kind = str(doc.get("notificationType") or doc.get("eventType") or "")
    mail_obj = doc.get("mail") if isinstance(doc.get("mail"), dict) else {}
    assert isinstance(mail_obj, dict)
    records: list[Delivery] = []
    if kind == "Bounce" and isinstance(doc.get("bounce"), dict):
        bounce = doc["bounce"]
        assert isinstance(bounce, dict)
        subtype = str(bounce.get("bounceSubType") or "")
        for item in bounce.get("bouncedRecipients") or []:
            if not isinstance(item, dict):
                continue
            diagnostic = str(item.get("diagnosticCode") or "")
            record = Delivery(
                recipient=clean_address(str(item.get("emailAddress") or "")),
                action=str(item.get("action") or "failed"),
                status=str(item.get("status") or find_status(diagnostic)),
                diagnostic=re.sub(r"^smtp;\s*", "", diagnostic, flags=re.IGNORECASE),
                reporting_mta=str(bounce.get("reportingMTA") or "").replace("dsn; ", ""),
                remote_mta=str(bounce.get("remoteMtaIp") or ""),
                spec="SMTP",
            )
            if subtype in SES_SUBTYPES:
                record.reason, record.rule = SES_SUBTYPES[subtype], f"mta:amazonses bounceSubType {subtype}"
            records.append(record)
    elif kind == "Complaint" and isinstance(doc.get("complaint"), dict):
        complaint = doc["complaint"]
        assert isinstance(complaint, dict)
        feedback = str(complaint.get("complaintFeedbackType") or "abuse")
        for item in complaint.get("complainedRecipients") or []:
            if isinstance(item, dict):
                records.append(Delivery(recipient=clean_address(str(item.get("emailAddress") or "")),
                                        reason="feedback", rule="mta:amazonses complaint notification",
                                        feedback_type=feedback, diagnostic=str(complaint.get("userAgent") or "")))
    elif kind == "Delivery" and isinstance(doc.get("delivery"), dict):
        delivery = doc["delivery"]
        assert isinstance(delivery, dict)
        response = str(delivery.get("smtpResponse") or "")
        for address in delivery.get("recipients") or []:
            records.append(Delivery(recipient=clean_address(str(address)), action="delivered", diagnostic=response,
                                    status=find_status(response) or "2.0.0", reason="delivered",
                                    rule="mta:amazonses delivery notification",
                                    reporting_mta=str(delivery.get("reportingMTA") or "")))
    records = [r for r in records if r.recipient]
    return (records, _original(mail_obj)) if records else None
