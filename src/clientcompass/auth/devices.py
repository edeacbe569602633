"""A short, human label for a browser's User-Agent ("Chrome on Android"), for the device list
and the audit trail. A guess good enough to recognise your own phone, not a fingerprint: the
full header is never shown or stored in the trail."""

from __future__ import annotations

import re

# Order matters: many browsers claim to be the ones after them (Edge says Chrome and Safari).
_BROWSERS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("Edge", re.compile(r"\bEdg(e|A|iOS)?/")),
    ("Opera", re.compile(r"\b(OPR|Opera)/")),
    ("Samsung Internet", re.compile(r"\bSamsungBrowser/")),
    ("Firefox", re.compile(r"\b(Firefox|FxiOS)/")),
    ("Chrome", re.compile(r"\b(HeadlessChrome|Chrome|CriOS|Chromium)/")),
    ("Safari", re.compile(r"\bSafari/")),
)
_SYSTEMS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("iPhone", re.compile(r"\biPhone\b")),
    ("iPad", re.compile(r"\biPad\b")),
    ("Android", re.compile(r"\bAndroid\b")),
    ("ChromeOS", re.compile(r"\bCrOS\b")),
    ("Windows", re.compile(r"\bWindows\b")),
    ("macOS", re.compile(r"\bMac OS X\b|\bMacintosh\b")),
    ("Linux", re.compile(r"\bLinux\b")),
)
_TOOLS = re.compile(r"^(curl|python-httpx|python-requests|Wget|HTTPie|PostmanRuntime)/", re.I)


def device_label(user_agent: str) -> str:
    """ "Chrome on Android", "Safari on iPhone", "curl", or "Unknown device"."""
    user_agent = user_agent.strip()
    tool = _TOOLS.match(user_agent)
    if tool:
        return tool.group(1)
    browser = next((name for name, pattern in _BROWSERS if pattern.search(user_agent)), "")
    system = next((name for name, pattern in _SYSTEMS if pattern.search(user_agent)), "")
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or "Unknown device"
