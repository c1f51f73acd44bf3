"""Bounces and complaints: decode delivery status notifications, ARF / JMRP complaints and
auto-replies, and classify each recipient's bounce reason (Sisimai's taxonomy)."""

from workbench.feedback.classify import parse_message
from workbench.feedback.model import Bounce, Complaint, Origin, Report
from workbench.feedback.rules import RuleSet, default_rules, site_rules

__all__ = ["Bounce", "Complaint", "Origin", "Report", "RuleSet", "default_rules", "parse_message", "site_rules"]
